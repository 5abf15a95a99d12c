#pragma once
// Golden files: the bytes fedi writes (or the reading of bytes it parses) for each wire
// format, checked in under test/data/golden/ and compared byte for byte. To change a
// format on purpose, run the tests with FEDI_REGENERATE_GOLDEN=1: they write the files
// instead of comparing (and say so), and the diff shows what changed (as Nix's
// characterisation tests do with _NIX_TEST_ACCEPT=1).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fedi::test {

inline bool regenerating_golden() {
    const char* v = std::getenv("FEDI_REGENERATE_GOLDEN");
    return v && std::string(v) == "1";
}

inline std::filesystem::path golden_path(const std::string& name) {
    return std::filesystem::path(FEDI_TEST_DATA_DIR) / "golden" / name;
}

inline std::string read_golden(const std::string& name) {
    std::ifstream in(golden_path(name), std::ios::binary);
    if (!in)
        FAIL("no golden file test/data/golden/" << name << " (FEDI_REGENERATE_GOLDEN=1 writes it)");
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Where two byte strings part, shown as hex around the first difference.
inline std::string describe_difference(const std::string& want, const std::string& got) {
    std::size_t at = 0;
    while (at < want.size() && at < got.size() && want[at] == got[at])
        ++at;
    auto hex = [&](const std::string& s) {
        std::ostringstream out;
        std::size_t from = at < 16 ? 0 : at - 16;
        for (std::size_t i = from; i < std::min(s.size(), at + 16); ++i) {
            static const char* digits = "0123456789abcdef";
            auto c = static_cast<unsigned char>(s[i]);
            out << (i == at ? "[" : "") << digits[c >> 4] << digits[c & 15] << (i == at ? "]" : "")
                << ' ';
        }
        return out.str();
    };
    std::ostringstream out;
    out << "golden " << want.size() << " bytes, got " << got.size() << "; first difference at "
        << at << "\n golden: " << hex(want) << "\n    got: " << hex(got);
    return out.str();
}

// Compares `actual` with test/data/golden/<name>, or writes it there when regenerating.
inline void check_golden(const std::string& name, const std::string& actual) {
    if (regenerating_golden()) {
        std::filesystem::create_directories(golden_path(name).parent_path());
        std::ofstream(golden_path(name), std::ios::binary) << actual;
        WARN("wrote test/data/golden/" << name);
        return;
    }
    auto want = read_golden(name);
    INFO("test/data/golden/" << name << " (FEDI_REGENERATE_GOLDEN=1 rewrites it on purpose)");
    INFO(describe_difference(want, actual));
    CHECK(want == actual);
}

} // namespace fedi::test
