#include "cache/narinfo.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace fedi::cache {

namespace {

constexpr std::string_view store_dir = "/nix/store/";

std::string base_name(std::string_view path) {
    auto slash = path.rfind('/');
    return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

// The parts of `text` between `sep` characters, empty parts dropped.
std::vector<std::string> split(std::string_view text, char sep) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= text.size()) {
        auto end = text.find(sep, pos);
        if (end == std::string_view::npos)
            end = text.size();
        if (end > pos)
            out.emplace_back(text.substr(pos, end - pos));
        pos = end + 1;
    }
    return out;
}

std::uint64_t number(const std::string& text, const std::string& field, const std::string& origin) {
    try {
        std::size_t used = 0;
        auto n = std::stoull(text, &used);
        if (used == text.size() && !text.empty() && text[0] != '-')
            return n;
    } catch (const std::exception&) {
    }
    throw Error(fmt::format("{}: {} is not a number: '{}'", origin, field, text));
}

void set_field(NarInfo& info, const std::string& key, const std::string& value,
               const std::string& origin) {
    if (key == "StorePath")
        info.store_path = value;
    else if (key == "URL")
        info.url = value;
    else if (key == "Compression")
        info.compression = value;
    else if (key == "FileHash")
        info.file_hash = value;
    else if (key == "FileSize")
        info.file_size = number(value, key, origin);
    else if (key == "NarHash")
        info.nar_hash = value;
    else if (key == "NarSize")
        info.nar_size = number(value, key, origin);
    else if (key == "References")
        info.references = split(value, ' ');
    else if (key == "Deriver")
        info.deriver = value == "unknown-deriver" ? "" : value;
    else if (key == "Sig")
        info.sigs.push_back(value);
}

} // namespace

std::string nix32(std::string_view bytes) {
    static constexpr std::string_view chars = "0123456789abcdfghijklmnpqrsvwxyz";
    if (bytes.empty())
        return "";
    std::size_t len = (bytes.size() * 8 - 1) / 5 + 1;
    std::string out;
    out.reserve(len);
    for (std::size_t n = len; n-- > 0;) {
        std::size_t b = n * 5, i = b / 8, j = b % 8;
        unsigned c = static_cast<unsigned char>(bytes[i]) >> j;
        if (i + 1 < bytes.size())
            c |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << (8 - j);
        out += chars[c & 0x1f];
    }
    return out;
}

std::string hash_part(std::string_view store_path) {
    return base_name(store_path).substr(0, 32);
}

std::string render(const NarInfo& info) {
    std::string out = fmt::format("StorePath: {}\nURL: {}\nCompression: {}\n", info.store_path,
                                  info.url, info.compression);
    if (!info.file_hash.empty())
        out += fmt::format("FileHash: {}\nFileSize: {}\n", info.file_hash, info.file_size);
    out += fmt::format("NarHash: {}\nNarSize: {}\nReferences: {}\n", info.nar_hash, info.nar_size,
                       fmt::join(info.references, " "));
    if (!info.deriver.empty())
        out += fmt::format("Deriver: {}\n", info.deriver);
    for (const auto& sig : info.sigs)
        out += fmt::format("Sig: {}\n", sig);
    return out;
}

NarInfo parse_narinfo(std::string_view text, const std::string& origin) {
    NarInfo info;
    for (const auto& line : split(text, '\n')) {
        auto colon = line.find(": ");
        if (colon == std::string::npos) {
            if (!line.empty() && line.back() == ':') // "References:" with nothing after it
                set_field(info, line.substr(0, line.size() - 1), "", origin);
            continue;
        }
        set_field(info, line.substr(0, colon), line.substr(colon + 2), origin);
    }
    for (auto [field, value] : {std::pair{"StorePath", &info.store_path},
                                {"URL", &info.url},
                                {"NarHash", &info.nar_hash}})
        if (value->empty())
            throw Error(fmt::format("{}: the narinfo has no {}", origin, field));
    if (info.compression.empty())
        info.compression = "bzip2"; // Nix's default when the field is absent
    return info;
}

std::string fingerprint(const NarInfo& info) {
    std::vector<std::string> refs;
    refs.reserve(info.references.size());
    for (const auto& r : info.references)
        refs.push_back(std::string(store_dir) + r);
    return fmt::format("1;{};{};{};{}", info.store_path, info.nar_hash, info.nar_size,
                       fmt::join(refs, ","));
}

} // namespace fedi::cache
