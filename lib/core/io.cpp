#include "core/io.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <sstream>

namespace fedi {

void Source::read_exact(char* buf, std::size_t n) {
    std::size_t done = 0;
    while (done < n) {
        std::size_t got = read_some(buf + done, n - done);
        if (got == 0)
            throw Error("unexpected end of stream");
        done += got;
    }
}

std::size_t StringSource::read_some(char* buf, std::size_t n) {
    std::size_t take = std::min(n, data_.size() - pos_);
    std::memcpy(buf, data_.data() + pos_, take);
    pos_ += take;
    return take;
}

std::string read_whole_file(const std::string& path, const std::string& origin) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw Error(fmt::format("{}: cannot read {}", origin, path));
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

} // namespace fedi
