#pragma once
// What the fuzz targets share. A parser answers untrusted bytes with a result or with
// the error its contract names (fedi::Error, sometimes nlohmann::json's exceptions): those
// are answers, not findings. Anything else escaping (std::out_of_range from a stoi, a
// json type_error where a fedi::Error is promised), a sanitizer report, a hang or a
// broken invariant (check()) stops the run and libFuzzer saves the input.
#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace fedi::fuzz {

inline std::string bytes(const std::uint8_t* data, std::size_t size) {
    return std::string(reinterpret_cast<const char*>(data), size);
}

// Runs f; a fedi::Error is the parser refusing the input.
template <typename F> void refused_or_parsed(F&& f) {
    try {
        f();
    } catch (const fedi::Error&) {
    }
}

// An invariant of the parser that the input broke.
inline void check(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "fuzz: invariant broken: %s\n", what);
        std::abort();
    }
}

} // namespace fedi::fuzz
