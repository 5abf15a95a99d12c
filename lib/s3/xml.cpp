#include "s3/xml.hpp"

#include <cstdint>

namespace fedi::storage::xml {
namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xC0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xE0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        out += static_cast<char>(0x80 | (cp & 0x3F));
    }
}

} // namespace

std::vector<std::string_view> elements(std::string_view doc, std::string_view tag) {
    std::vector<std::string_view> out;
    // Appended, not `"<" + temporary`: GCC 12's -O2 inlining of operator+(const char*,
    // string&&) trips a false -Wrestrict (GCC bug 105651).
    std::string open = "<";
    open += tag;
    std::string close = "</";
    close += tag;
    close += '>';
    std::size_t pos = 0;
    while ((pos = doc.find(open, pos)) != std::string_view::npos) {
        auto after = pos + open.size();
        if (after >= doc.size())
            break;
        char c = doc[after];
        if (c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
            pos = after; // a longer tag name
            continue;
        }
        auto gt = doc.find('>', after);
        if (gt == std::string_view::npos)
            break;
        if (doc[gt - 1] == '/') { // <tag/>
            out.emplace_back();
            pos = gt + 1;
            continue;
        }
        auto end = doc.find(close, gt + 1);
        if (end == std::string_view::npos)
            break;
        out.push_back(doc.substr(gt + 1, end - gt - 1));
        pos = end + close.size();
    }
    return out;
}

std::optional<std::string> text(std::string_view doc, std::string_view tag) {
    auto found = elements(doc, tag);
    if (found.empty())
        return std::nullopt;
    return unescape(found.front());
}

std::string unescape(std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '&') {
            out += s[i];
            continue;
        }
        auto semi = s.find(';', i);
        if (semi == std::string_view::npos) {
            out += s.substr(i);
            break;
        }
        auto name = s.substr(i + 1, semi - i - 1);
        if (name == "lt")
            out += '<';
        else if (name == "gt")
            out += '>';
        else if (name == "amp")
            out += '&';
        else if (name == "quot")
            out += '"';
        else if (name == "apos")
            out += '\'';
        else if (name.size() > 1 && name[0] == '#') {
            try {
                auto cp = name[1] == 'x' ? std::stoul(std::string(name.substr(2)), nullptr, 16)
                                         : std::stoul(std::string(name.substr(1)), nullptr, 10);
                append_utf8(out, static_cast<std::uint32_t>(cp));
            } catch (const std::exception&) {
                out += s.substr(i, semi - i + 1);
            }
        } else {
            out += s.substr(i, semi - i + 1); // unknown entity: keep as written
        }
        i = semi;
    }
    return out;
}

std::string escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
        case '<':
            out += "&lt;";
            break;
        case '>':
            out += "&gt;";
            break;
        case '&':
            out += "&amp;";
            break;
        case '"':
            out += "&quot;";
            break;
        case '\'':
            out += "&apos;";
            break;
        default:
            out += c;
        }
    }
    return out;
}

} // namespace fedi::storage::xml
