#include "nix/nar.hpp"

#include "core/error.hpp"
#include "nix/wire.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

namespace fedi::nix {
namespace {

constexpr std::size_t chunk_size = std::size_t{256} * 1024;

Error sys_error(const std::string& what, const std::string& path) {
    return Error(fmt::format("cannot {} '{}': {}", what, path, std::strerror(errno)));
}

struct stat lstat_or_throw(const std::string& path) {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0)
        throw sys_error("stat", path);
    return st;
}

// Entry names except "." and "..", sorted bytewise as Nix does (std::string compares
// as unsigned bytes, whatever the locale).
std::vector<std::string> sorted_entries(const std::string& path) {
    DIR* dir = ::opendir(path.c_str());
    if (!dir)
        throw sys_error("open directory", path);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(dir)) {
        std::string name = e->d_name;
        if (name != "." && name != "..")
            names.push_back(std::move(name));
        errno = 0;
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) {
        errno = err;
        throw sys_error("read directory", path);
    }
    std::sort(names.begin(), names.end());
    return names;
}

std::string read_link(const std::string& path, std::size_t size_hint) {
    std::string target(std::max<std::size_t>(size_hint, 64), '\0');
    for (;;) {
        ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
        if (n < 0)
            throw sys_error("read symlink", path);
        if (static_cast<std::size_t>(n) < target.size()) {
            target.resize(n);
            return target;
        }
        target.resize(target.size() * 2);
    }
}

struct FileCloser {
    int fd;
    ~FileCloser() { ::close(fd); }
};

void dump_contents(const std::string& path, std::uint64_t size, Sink& sink, char* buf) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        throw sys_error("open", path);
    FileCloser closer{fd};
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    write_string(sink, "contents");
    write_u64(sink, size);
    std::uint64_t left = size;
    while (left > 0) {
        ssize_t n = ::read(fd, buf, std::min<std::uint64_t>(left, chunk_size));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            throw sys_error("read", path);
        if (n == 0)
            throw Error(fmt::format("file '{}' shrank while it was being read", path));
        sink.write(buf, n);
        left -= n;
    }
    write_padding(sink, size);
}

void dump(const std::string& path, Sink& sink, char* buf) {
    struct stat st = lstat_or_throw(path);
    write_string(sink, "(");
    if (S_ISREG(st.st_mode)) {
        write_string(sink, "type");
        write_string(sink, "regular");
        if (st.st_mode & S_IXUSR) {
            write_string(sink, "executable");
            write_string(sink, "");
        }
        dump_contents(path, st.st_size, sink, buf);
    } else if (S_ISDIR(st.st_mode)) {
        write_string(sink, "type");
        write_string(sink, "directory");
        for (const auto& name : sorted_entries(path)) {
            write_string(sink, "entry");
            write_string(sink, "(");
            write_string(sink, "name");
            write_string(sink, name);
            write_string(sink, "node");
            dump(path + "/" + name, sink, buf);
            write_string(sink, ")");
        }
    } else if (S_ISLNK(st.st_mode)) {
        write_string(sink, "type");
        write_string(sink, "symlink");
        write_string(sink, "target");
        write_string(sink, read_link(path, st.st_size));
    } else {
        throw Error(fmt::format("file '{}' has an unsupported type (only regular files, "
                                "directories and symlinks can be archived)",
                                path));
    }
    write_string(sink, ")");
}

std::uint64_t padded(std::uint64_t len) {
    return 8 + len + (8 - len % 8) % 8;
}

std::uint64_t size_of(const std::string& path) {
    struct stat st = lstat_or_throw(path);
    std::uint64_t n = padded(1) + padded(4); // "(" "type"
    if (S_ISREG(st.st_mode)) {
        n += padded(7); // "regular"
        if (st.st_mode & S_IXUSR)
            n += padded(10) + padded(0);     // "executable" ""
        n += padded(8) + padded(st.st_size); // "contents" + data
    } else if (S_ISDIR(st.st_mode)) {
        n += padded(9); // "directory"
        for (const auto& name : sorted_entries(path))
            n += padded(5) + padded(1) + padded(4) + padded(name.size()) + padded(4) +
                 size_of(path + "/" + name) + padded(1);
    } else if (S_ISLNK(st.st_mode)) {
        n += padded(7) + padded(6) + padded(read_link(path, st.st_size).size());
    } else {
        throw Error(fmt::format("file '{}' has an unsupported type", path));
    }
    return n + padded(1); // ")"
}

} // namespace

void dump_nar(const std::string& fs_path, Sink& sink) {
    // Not zero-filled: dump_nar may run once per path of a large closure.
    auto buf = std::make_unique_for_overwrite<char[]>(chunk_size);
    write_string(sink, "nix-archive-1");
    dump(fs_path, sink, buf.get());
}

std::uint64_t nar_size(const std::string& fs_path) {
    return padded(13) + size_of(fs_path);
}

} // namespace fedi::nix
