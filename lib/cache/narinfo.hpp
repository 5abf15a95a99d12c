#pragma once
// Nix's binary cache format: the .narinfo text that describes one store path, the
// fingerprint its signatures sign, and Nix's base-32 for hashes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fedi::cache {

// Nix's base-32 (alphabet without e, o, u, t; least significant bits first), as in
// "sha256:1bid1z29…".
std::string nix32(std::string_view bytes);

// "abcd…" (32 characters) of "/nix/store/abcd…-name": the key of a path's narinfo.
std::string hash_part(std::string_view store_path);

struct NarInfo {
    std::string store_path;              // /nix/store/…
    std::string url;                     // of the NAR, relative to the cache
    std::string compression;             // xz, zstd, none
    std::string file_hash;               // "sha256:<nix32>" of the compressed NAR
    std::uint64_t file_size = 0;         // bytes of the compressed NAR
    std::string nar_hash;                // "sha256:<nix32>"
    std::uint64_t nar_size = 0;          // bytes of the NAR
    std::vector<std::string> references; // base names, sorted
    std::string deriver;                 // base name, or empty
    std::vector<std::string> sigs;       // "keyname:base64"
};

// The narinfo text, one "Key: value" line each, in the order Nix writes them.
std::string render(const NarInfo& info);

// Reads a narinfo; throws fedi::Error naming `origin` when a required field is missing or
// a number is not one. Unknown fields are ignored (as Nix does).
NarInfo parse_narinfo(std::string_view text, const std::string& origin);

// What a signature signs: "1;<store path>;<nar hash>;<nar size>;<full reference paths,
// comma-separated>".
std::string fingerprint(const NarInfo& info);

} // namespace fedi::cache
