#include "statestore/age_codec.hpp"

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <sstream>
#include <unistd.h>

namespace fedi::statestore {

namespace {

namespace fs = std::filesystem;

// A directory only this user can enter (mkdtemp makes it 0700), removed with everything
// in it when this goes out of scope.
class PrivateDir {
  public:
    PrivateDir() {
        std::string pattern = (fs::temp_directory_path() / "fedi-age-XXXXXX").string();
        if (!mkdtemp(pattern.data()))
            throw Error(fmt::format("cannot create a private temporary directory for age: {}",
                                    std::strerror(errno)));
        path_ = pattern;
    }
    ~PrivateDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    PrivateDir(const PrivateDir&) = delete;
    PrivateDir& operator=(const PrivateDir&) = delete;

    // Writes `bytes` to a new file `name` (0600) inside and returns its path.
    std::string write(const std::string& name, const std::string& bytes) const {
        auto file = (fs::path(path_) / name).string();
        int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        bool ok = fd >= 0 &&
                  ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
        if (fd >= 0)
            ::close(fd);
        if (!ok)
            throw Error(fmt::format("cannot write {}: {}", file, std::strerror(errno)));
        return file;
    }

  private:
    std::string path_;
};

// age's own words: its "age: error: …" lines, without its advert for bug reports.
std::string age_message(const std::string& err) {
    std::string out;
    std::istringstream lines(err);
    for (std::string line; std::getline(lines, line);) {
        if (line.find("report unexpected or unhelpful errors") != std::string::npos)
            continue;
        auto text = line.rfind("age: error: ", 0) == 0 ? line.substr(12) : line;
        if (!trim(text).empty())
            out += (out.empty() ? "" : "; ") + trim(text);
    }
    return out.empty() ? "age failed without saying why" : out;
}

ProcessResult run_age(const std::vector<std::string>& args, ProcessOptions opts) {
    // The key stays with fedi: age gets it on stdin when it needs it, never by inheritance.
    opts.extra_env["FEDI_AGE_IDENTITY"] = "";
    std::vector<std::string> argv{"age"};
    argv.insert(argv.end(), args.begin(), args.end());
    try {
        return run_process(argv, opts);
    } catch (const Error& e) {
        throw Error(fmt::format("state encryption runs the age tool (Debian package age), "
                                "which could not be started: {}",
                                e.message()));
    }
}

std::string origins(const AgeIdentities& ids) {
    std::string out = ids.key ? "FEDI_AGE_IDENTITY" : "";
    for (const auto& f : ids.files)
        out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", f.path, f.origin);
    return out;
}

class AgeCodec : public Codec {
  public:
    explicit AgeCodec(AgeOptions options) : options_(std::move(options)) {
        if (options_.recipients.empty())
            throw Error("internal: an age codec without recipients");
    }

    std::string seal(const std::string& text) override {
        std::vector<std::string> args{"--encrypt"};
        for (const auto& r : options_.recipients)
            args.insert(args.end(), {"--recipient", r});
        ProcessOptions opts;
        opts.stdin_data = text;
        auto result = run_age(args, opts);
        if (!result.ok())
            throw Error(
                fmt::format("cannot encrypt the state with age: {}", age_message(result.err)));
        return result.out;
    }

    std::string open(const std::string& stored, const std::string& where) override {
        if (!is_age_encrypted(stored)) {
            if (options_.on_notice && !stored.empty())
                options_.on_notice(fmt::format("the state {} is plain text; the next write "
                                               "encrypts it to {} (meta.state.encryption)",
                                               where, describe_recipients()));
            return stored;
        }
        check_identities(where);
        return decrypt(stored, where);
    }

    std::string describe() const override { return "age (" + describe_recipients() + ")"; }

  private:
    std::string describe_recipients() const {
        auto n = options_.recipients.size();
        return fmt::format("{} recipient{}", n, n == 1 ? "" : "s");
    }

    void check_identities(const std::string& where) const {
        const auto& ids = options_.identities;
        if (ids.empty())
            throw usage_error(fmt::format("the state {} is encrypted with age and no identity "
                                          "was given to read it: give {}",
                                          where, age_identity_hint()));
        for (const auto& f : ids.files)
            if (!fs::exists(f.path))
                throw usage_error(fmt::format("the age identity file {} (from {}) does not "
                                              "exist; it is needed to read the state {}",
                                              f.path, f.origin, where));
    }

    std::string decrypt(const std::string& stored, const std::string& where) const {
        const auto& ids = options_.identities;
        // The encrypted bytes go through a file so that stdin is free for the key.
        PrivateDir dir;
        auto input = dir.write("state.age", stored);
        std::vector<std::string> args{"--decrypt"};
        ProcessOptions opts;
        if (ids.key) {
            args.insert(args.end(), {"--identity", "-"});
            opts.stdin_data = *ids.key + "\n";
        }
        for (const auto& f : ids.files)
            args.insert(args.end(), {"--identity", f.path});
        args.push_back(input);
        auto result = run_age(args, opts);
        if (result.ok())
            return result.out;
        auto message = age_message(result.err);
        if (message.find("no identity matched") != std::string::npos)
            throw usage_error(
                fmt::format("the state {} is encrypted with age for other recipients: none of the "
                            "identities given ({}) can read it",
                            where, origins(ids)));
        throw usage_error(fmt::format("cannot decrypt the state {} with age (identities: {}): {}",
                                      where, origins(ids), message));
    }

    AgeOptions options_;
};

std::optional<std::string> env(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v)
        return std::nullopt;
    return std::string(v);
}

} // namespace

AgeIdentities age_identities_from_environment(const std::optional<std::string>& deployment_file) {
    AgeIdentities ids;
    ids.key = env("FEDI_AGE_IDENTITY");
    if (auto file = env("FEDI_AGE_IDENTITY_FILE"))
        ids.files.push_back({*file, "FEDI_AGE_IDENTITY_FILE"});
    if (deployment_file)
        ids.files.push_back({*deployment_file, "meta.state.encryption.identityFile"});
    return ids;
}

std::string age_identity_hint() {
    return "FEDI_AGE_IDENTITY (the key itself, AGE-SECRET-KEY-1…), FEDI_AGE_IDENTITY_FILE (a "
           "file holding it) or meta.state.encryption.identityFile in the deployment";
}

std::unique_ptr<Codec> age_codec(AgeOptions options) {
    return std::make_unique<AgeCodec>(std::move(options));
}

} // namespace fedi::statestore
