#include "state/state.hpp"

#include "core/error.hpp"

#include <cerrno>
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

nlohmann::json to_json(const State& s) {
    nlohmann::json j = s.extra;
    j["version"] = s.version;
    nlohmann::json machines = nlohmann::json::object();
    for (const auto& [name, m] : s.machines) {
        nlohmann::json gens = nlohmann::json::array();
        for (const auto& g : m.generations) {
            nlohmann::json gj = {{"system", g.system}, {"time", g.time}, {"goal", g.goal}};
            if (g.number)
                gj["number"] = *g.number;
            gens.push_back(gj);
        }
        machines[name] = {{"hostKeys", m.host_keys}, {"generations", gens}};
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
    if (j.contains("version") && !j["version"].is_number_integer())
        throw bad(fmt::format("\"version\" is {}, not an integer", j["version"].dump()));
    s.version = j.value("version", 1);
    if (s.version != 1)
        throw Error(fmt::format("state file {} has version {}, which this fedi does not know", file,
                                s.version));
    try {
        static const nlohmann::json empty_object = nlohmann::json::object();
        static const nlohmann::json empty_array = nlohmann::json::array();
        const auto mit = j.find("machines");
        const nlohmann::json& machines = mit != j.end() ? *mit : empty_object;
        for (const auto& [name, m] : machines.items()) {
            MachineState ms;
            ms.host_keys = m.value("hostKeys", std::vector<std::string>{});
            const auto git = m.find("generations");
            const nlohmann::json& gens = git != m.end() ? *git : empty_array;
            for (const auto& g : gens) {
                Generation gen;
                gen.system = g.at("system").get<std::string>();
                gen.time = g.value("time", "");
                gen.goal = g.value("goal", "");
                if (g.contains("number") && g["number"].is_number_integer())
                    gen.number = g["number"].get<int>();
                ms.generations.push_back(gen);
            }
            s.machines[name] = ms;
        }
    } catch (const nlohmann::json::exception& e) {
        throw bad(e.what());
    }
    s.extra = j;
    s.extra.erase("machines");
    s.extra.erase("version");
    return s;
}

State load(const std::string& file) {
    std::error_code ec;
    if (!fs::exists(file, ec))
        return {};
    FILE* f = std::fopen(file.c_str(), "rb");
    if (!f)
        throw Error(fmt::format("cannot read state file {}: {}", file, std::strerror(errno)));
    std::string text;
    char buf[65536];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
        text.append(buf, n);
    std::fclose(f);
    return parse(text, file);
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

void ensure_dir(const fs::path& dir) {
    if (dir.empty())
        return;
    std::error_code ec;
    if (fs::exists(dir, ec))
        return;
    fs::create_directories(dir, ec);
    if (ec)
        throw Error(fmt::format("cannot create {}: {}", dir.string(), ec.message()));
    ::chmod(dir.c_str(), 0700);
}
} // namespace

void save(const std::string& file, const State& s) {
    fs::path path(file);
    fs::path dir = path.parent_path();
    ensure_dir(dir);
    std::string tmp = file + ".tmp." + std::to_string(getpid());
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        throw Error(fmt::format("cannot write state file {}: {}", tmp, std::strerror(errno)));
    try {
        write_all(fd, to_json(s).dump(2) + "\n", tmp);
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
        throw Error(fmt::format("cannot replace state file {}: {}", file, std::strerror(e)));
    }
    int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
}

std::unique_ptr<Lock> Lock::acquire(const std::string& state_file, const std::string& command) {
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
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

} // namespace fedi::state
