#include "statestore/codec.hpp"

#include "core/error.hpp"

#include <fmt/format.h>

namespace fedi::statestore {

namespace {

class PlainCodec : public Codec {
  public:
    std::string seal(const std::string& text) override { return text; }
    std::string open(const std::string& stored, const std::string& where) override {
        if (is_age_encrypted(stored))
            throw usage_error(fmt::format(
                "the state {} is encrypted with age and no identity was given to read it", where));
        return stored;
    }
    std::string describe() const override { return "plain"; }
};

} // namespace

std::unique_ptr<Codec> plain_codec() {
    return std::make_unique<PlainCodec>();
}

bool is_age_encrypted(const std::string& stored) {
    // The binary format's first line, and the ASCII armour's.
    return stored.rfind("age-encryption.org/v1\n", 0) == 0 ||
           stored.rfind("-----BEGIN AGE ENCRYPTED FILE-----", 0) == 0;
}

} // namespace fedi::statestore
