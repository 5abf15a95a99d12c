#pragma once
// How the state document is kept at rest: plain JSON, or sealed (encrypted) for a set of
// recipients. Stores call seal() before every write and open() after every read.
#include <memory>
#include <string>

namespace fedi::statestore {

class Codec {
  public:
    virtual ~Codec() = default;
    // The bytes to store for the state text.
    virtual std::string seal(const std::string& text) = 0;
    // The state text from stored bytes; an error naming `where` when they cannot be read
    // (encrypted for someone else, no identity given).
    virtual std::string open(const std::string& stored, const std::string& where) = 0;
    // "plain", "age (2 recipients)": for `fedi state show` and messages.
    virtual std::string describe() const = 0;
};

// Stores the text as it is; refuses encrypted bytes with a message saying what to give.
std::unique_ptr<Codec> plain_codec();

// Whether stored bytes are an age file (https://age-encryption.org/v1).
bool is_age_encrypted(const std::string& stored);

} // namespace fedi::statestore
