#pragma once
// The one temporary directory the unit tests use.
#include "core/error.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

namespace fedi::test {

// A fresh directory under $TMPDIR (else /tmp), removed with everything in it on destruction,
// read-only trees (Nix store copies) included.
class TempDir {
  public:
    explicit TempDir(const std::string& tag = "fedi-test") {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + tag + ".XXXXXX";
        if (!::mkdtemp(tmpl.data()))
            throw Error("mkdtemp failed for " + tmpl + ": " + std::strerror(errno));
        path_ = tmpl;
    }
    ~TempDir() {
        namespace fs = std::filesystem;
        std::error_code ec;
        make_writable(path_);
        for (fs::recursive_directory_iterator it(path_, ec), end; !ec && it != end;
             it.increment(ec))
            if (it->is_directory(ec) && !it->is_symlink(ec))
                make_writable(it->path());
        fs::remove_all(path_, ec);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;

    const std::string& path() const { return path_; }
    // The path of `rel` inside the directory.
    std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }
    // Writes `text` to the file `name` inside the directory; returns its path.
    std::string write(const std::string& name, const std::string& text) const {
        std::ofstream(*this / name, std::ios::binary) << text;
        return *this / name;
    }

  private:
    static void make_writable(const std::filesystem::path& dir) {
        std::error_code ec;
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                     std::filesystem::perm_options::add, ec);
    }

    std::string path_;
};

} // namespace fedi::test
