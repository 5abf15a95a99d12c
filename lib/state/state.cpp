#include "state/state.hpp"

#include "core/error.hpp"
#include "core/text.hpp"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fcntl.h>
#include <filesystem>
#include <fmt/format.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fedi::state {

namespace fs = std::filesystem;

nlohmann::json with_unknown_fields(const nlohmann::json& old, nlohmann::json fresh) {
    if (!old.is_object() || !fresh.is_object())
        return fresh;
    for (const auto& [key, value] : old.items())
        if (!fresh.contains(key))
            fresh[key] = value;
    return fresh;
}

nlohmann::json with_unknown_fields_of_entries(const nlohmann::json& old, nlohmann::json fresh) {
    if (!old.is_object() || !fresh.is_object())
        return fresh;
    for (auto& [key, value] : fresh.items()) {
        auto it = old.find(key);
        if (it != old.end())
            value = with_unknown_fields(*it, std::move(value));
    }
    return fresh;
}

namespace {
// A copy of `j` (an object) without `known`: the fields a newer fedi added.
nlohmann::json unknown_fields(const nlohmann::json& j, std::initializer_list<const char*> known) {
    nlohmann::json out = j;
    for (const char* k : known)
        out.erase(k);
    return out;
}
} // namespace

nlohmann::json to_json(const State& s) {
    nlohmann::json j = s.extra.is_object() ? s.extra : nlohmann::json::object();
    j["version"] = s.version;
    nlohmann::json machines = nlohmann::json::object();
    for (const auto& [name, m] : s.machines) {
        nlohmann::json gens = nlohmann::json::array();
        for (const auto& g : m.generations) {
            nlohmann::json gj = g.extra.is_object() ? g.extra : nlohmann::json::object();
            gj["system"] = g.system;
            gj["time"] = g.time;
            gj["goal"] = g.goal;
            if (g.number)
                gj["number"] = *g.number;
            else
                gj.erase("number");
            gens.push_back(gj);
        }
        nlohmann::json mj = m.extra.is_object() ? m.extra : nlohmann::json::object();
        mj["hostKeys"] = m.host_keys;
        mj["generations"] = gens;
        machines[name] = mj;
    }
    j["machines"] = machines;
    return j;
}

State from_json(const nlohmann::json& j, const std::string& file) {
    auto bad = [&](const std::string& what) {
        return Error(fmt::format("state file {} is damaged: {}", file, what));
    };
    if (!j.is_object())
        throw bad("not a JSON object");
    State s;
    if (auto v = j.find("version"); v != j.end()) {
        if (!v->is_number_integer() || v->get<long long>() < 1 || v->get<long long>() > 1000000)
            throw bad(fmt::format("\"version\" is {}, not a format version", v->dump()));
        s.version = v->get<int>();
    }
    if (s.version > format_version)
        throw Error(fmt::format("state file {} was written by a newer fedi (state format version "
                                "{}); this fedi reads format version {} only and leaves the file "
                                "as it is: upgrade fedi",
                                file, s.version, format_version));
    s.version = format_version;
    try {
        static const nlohmann::json empty_object = nlohmann::json::object();
        static const nlohmann::json empty_array = nlohmann::json::array();
        const auto mit = j.find("machines");
        const nlohmann::json& machines = mit != j.end() ? *mit : empty_object;
        if (!machines.is_object())
            throw bad("\"machines\" is not an object");
        for (const auto& [name, m] : machines.items()) {
            if (!m.is_object())
                throw bad(fmt::format("machines.{} is not an object", name));
            MachineState ms;
            ms.host_keys = m.value("hostKeys", std::vector<std::string>{});
            const auto git = m.find("generations");
            const nlohmann::json& gens = git != m.end() ? *git : empty_array;
            if (!gens.is_array())
                throw bad(fmt::format("machines.{}.generations is not an array", name));
            for (const auto& g : gens) {
                if (!g.is_object())
                    throw bad(fmt::format("a generation of machines.{} is not an object", name));
                Generation gen;
                gen.system = g.at("system").get<std::string>();
                gen.time = g.value("time", "");
                gen.goal = g.value("goal", "");
                if (g.contains("number") && g["number"].is_number_integer())
                    gen.number = g["number"].get<int>();
                gen.extra = unknown_fields(g, {"system", "time", "goal", "number"});
                ms.generations.push_back(gen);
            }
            ms.extra = unknown_fields(m, {"hostKeys", "generations"});
            s.machines[name] = ms;
        }
    } catch (const nlohmann::json::exception& e) {
        throw bad(e.what());
    }
    s.extra = unknown_fields(j, {"machines", "version"});
    return s;
}

std::optional<std::string> read_file(const std::string& given) {
    const std::string file = real_state_path(given);
    std::error_code ec;
    if (!fs::exists(file, ec))
        return std::nullopt;
    FILE* f = std::fopen(file.c_str(), "rb");
    if (!f)
        throw Error(fmt::format("cannot read state file {}: {}", file, std::strerror(errno)));
    std::string text;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    std::fclose(f);
    return text;
}

State load(const std::string& given) {
    auto text = read_file(given);
    return text ? parse(*text, real_state_path(given)) : State{};
}

State parse(const std::string& text, const std::string& file) {
    auto j = nlohmann::json::parse(text, nullptr, false);
    if (j.is_discarded())
        throw Error(fmt::format("state file {} is not valid JSON; fix or restore it (fedi "
                                "never overwrites a state file it cannot read)",
                                file));
    return from_json(j, file);
}

namespace {
void write_all(int fd, const std::string& data, const std::string& file) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t w = ::write(fd, data.data() + done, data.size() - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            throw Error(fmt::format("cannot write {}: {}", file, std::strerror(errno)));
        done += w;
    }
}

// Creates the state's directory and each missing parent with mode 0700 (not the umask's):
// state holds secrets. An existing `.fedi` directory of ours is tightened to 0700 too; any
// other existing directory (a --state in /tmp, a home) is the user's and left as it is.
void ensure_dir(const fs::path& dir) {
    if (dir.empty())
        return;
    struct stat st;
    if (::stat(dir.c_str(), &st) == 0) {
        if (!S_ISDIR(st.st_mode))
            throw Error(fmt::format("cannot use {} for state: not a directory", dir.string()));
        if (dir.filename() == ".fedi" && st.st_uid == ::geteuid() && (st.st_mode & 0077) != 0 &&
            ::chmod(dir.c_str(), 0700) != 0)
            throw Error(fmt::format("cannot make {} private (mode 0700): {}", dir.string(),
                                    std::strerror(errno)));
        return;
    }
    ensure_dir(dir.parent_path() == dir ? fs::path() : dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
        throw Error(fmt::format("cannot create {}: {}", dir.string(), std::strerror(errno)));
    ::chmod(dir.c_str(), 0700); // whatever the umask
}

// Removes temporary state files (`<file>.tmp.<pid>`) that no write in progress owns: their
// process is gone, or they are older than the lock this process now holds (every writer
// renames its file before giving the lock up).
void remove_stale_temporaries(const fs::path& file, const fs::path& lock_file) {
    struct stat lock_st;
    if (::stat(lock_file.c_str(), &lock_st) != 0)
        return;
    auto prefix = file.filename().string() + ".tmp.";
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(file.parent_path(), ec)) {
        auto name = e.path().filename().string();
        if (name.rfind(prefix, 0) != 0)
            continue;
        auto pid_text = name.substr(prefix.size());
        if (pid_text.empty() || pid_text.find_first_not_of("0123456789") != std::string::npos ||
            pid_text.size() > 9)
            continue;
        auto pid = static_cast<pid_t>(std::stol(pid_text));
        if (pid == ::getpid())
            continue;
        struct stat st;
        if (::lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        bool gone = ::kill(pid, 0) != 0 && errno == ESRCH;
        bool older = st.st_mtim.tv_sec < lock_st.st_mtim.tv_sec ||
                     (st.st_mtim.tv_sec == lock_st.st_mtim.tv_sec &&
                      st.st_mtim.tv_nsec < lock_st.st_mtim.tv_nsec);
        if (gone || older)
            ::unlink(e.path().c_str());
    }
}
} // namespace

std::string real_state_path(const std::string& file) {
    fs::path p = fs::absolute(file).lexically_normal();
    for (int hops = 0; hops < 40; ++hops) {
        std::error_code ec;
        auto dir = fs::weakly_canonical(p.parent_path(), ec);
        if (!ec)
            p = dir / p.filename();
        if (!fs::is_symlink(fs::symlink_status(p, ec)))
            return p.string();
        auto target = fs::read_symlink(p, ec);
        if (ec)
            throw Error(
                fmt::format("cannot read the symbolic link {}: {}", p.string(), ec.message()));
        p = (target.is_absolute() ? target : p.parent_path() / target).lexically_normal();
    }
    throw Error(fmt::format("state file {}: too many levels of symbolic links", file));
}

void save(const std::string& given, const State& s) {
    write_file(given, to_text(s));
}

std::string to_text(const State& s) {
    return to_json(s).dump(2) + "\n";
}

void write_file(const std::string& given, const std::string& text, const std::string& what) {
    const std::string file = real_state_path(given);
    fs::path path(file);
    fs::path dir = path.parent_path();
    ensure_dir(dir);
    std::string tmp = file + ".tmp." + std::to_string(getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw Error(fmt::format("cannot write {} {}: {}", what, tmp, std::strerror(errno)));
    try {
        write_all(fd, text, tmp);
        if (::fsync(fd) != 0)
            throw Error(fmt::format("cannot sync {}: {}", tmp, std::strerror(errno)));
    } catch (...) {
        ::close(fd);
        ::unlink(tmp.c_str());
        throw;
    }
    ::close(fd);
    if (::rename(tmp.c_str(), file.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw Error(fmt::format("cannot replace {} {}: {}", what, file, std::strerror(e)));
    }
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

std::unique_ptr<Lock> Lock::acquire(const std::string& given, const std::string& command) {
    // The real path: a --state given through a symbolic link takes the same lock.
    const std::string state_file = real_state_path(given);
    std::string path = state_file + ".lock";
    ensure_dir(fs::path(path).parent_path());
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        throw Error(fmt::format("cannot open lock file {}: {}", path, std::strerror(errno)));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        std::string holder;
        char buf[1024];
        ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        if (n > 0)
            holder.assign(buf, n);
        while (!holder.empty() && holder.back() == '\n')
            holder.pop_back();
        ::close(fd);
        if (e == EWOULDBLOCK)
            throw Error(fmt::format("the deployment is locked by another fedi ({}); lock file {}",
                                    holder.empty() ? "holder unknown" : holder, path));
        throw Error(fmt::format("cannot lock {}: {}", path, std::strerror(e)));
    }
    char host[256] = "";
    gethostname(host, sizeof host - 1);
    std::string info =
        fmt::format("pid {} on {}, `{}`, since {}\n", getpid(), host, command, now_utc());
    if (::ftruncate(fd, 0) == 0)
        (void)!::pwrite(fd, info.data(), info.size(), 0);
    remove_stale_temporaries(state_file, path);
    return std::unique_ptr<Lock>(new Lock(fd, path));
}

Lock::~Lock() {
    // Truncate so a stale holder line is never shown; the lock itself dies with the fd.
    (void)!::ftruncate(fd_, 0);
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
}

std::string default_state_file(const std::string& deployment_file) {
    fs::path p = fs::absolute(deployment_file).lexically_normal();
    return (p.parent_path() / ".fedi" / "state.json").string();
}

std::vector<std::string> trusted_host_keys(const State& s, const std::string& machine) {
    auto it = s.machines.find(machine);
    return it == s.machines.end() ? std::vector<std::string>{} : it->second.host_keys;
}

std::string now_utc() {
    return format_utc(std::time(nullptr), "%Y-%m-%dT%H:%M:%SZ");
}

} // namespace fedi::state
