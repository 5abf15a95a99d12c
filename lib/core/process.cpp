#include "core/process.hpp"

#include "core/error.hpp"

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <poll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

namespace fedi {
namespace {

struct Pipe {
    int fd[2] = {-1, -1};
    Pipe() {
        if (pipe2(fd, O_CLOEXEC) != 0)
            throw Error(fmt::format("cannot create a pipe: {}", std::strerror(errno)));
    }
};

void close_fd(int& fd) {
    if (fd >= 0)
        ::close(fd);
    fd = -1;
}

int decode_status(int status) {
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return -1;
}

// Forks and execs argv with the three pipes; returns the pid. The child end of each
// pipe is dup2'ed onto 0/1/2; the parent keeps the other ends.
int spawn(const std::vector<std::string>& argv, const ProcessOptions& opts, Pipe& in, Pipe& out,
          Pipe& err) {
    if (argv.empty())
        throw Error("cannot start a process: empty command");
    std::vector<std::string> env_storage;
    for (char** e = environ; *e; ++e) {
        std::string entry(*e);
        auto name = entry.substr(0, entry.find('='));
        if (!opts.extra_env.count(name))
            env_storage.push_back(entry);
    }
    for (const auto& [k, v] : opts.extra_env)
        env_storage.push_back(k + "=" + v);
    std::vector<char*> envp, args;
    for (auto& e : env_storage)
        envp.push_back(e.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_copy = argv;
    for (auto& a : argv_copy)
        args.push_back(a.data());
    args.push_back(nullptr);

    // An exec failure is reported to the parent through a CLOEXEC pipe.
    Pipe status;
    pid_t pid = fork();
    if (pid < 0)
        throw Error(fmt::format("cannot fork: {}", std::strerror(errno)));
    if (pid == 0) {
        dup2(in.fd[0], 0);
        dup2(out.fd[1], 1);
        dup2(err.fd[1], 2);
        if (opts.cwd && chdir(opts.cwd->c_str()) != 0) {
            int e = errno;
            (void)!::write(status.fd[1], &e, sizeof e);
            _exit(127);
        }
        signal(SIGPIPE, SIG_DFL);
        execvpe(args[0], args.data(), envp.data());
        int e = errno;
        (void)!::write(status.fd[1], &e, sizeof e);
        _exit(127);
    }
    close_fd(status.fd[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(status.fd[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    close_fd(status.fd[0]);
    close_fd(in.fd[0]);
    close_fd(out.fd[1]);
    close_fd(err.fd[1]);
    if (n == sizeof child_errno) {
        int st;
        waitpid(pid, &st, 0);
        throw Error(fmt::format("cannot run {}: {}", argv[0], std::strerror(child_errno)));
    }
    return pid;
}

// Splits complete lines out of `pending` and hands them to cb.
void emit_lines(std::string& pending, const std::function<void(const std::string&)>& cb,
                bool flush_all) {
    std::size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
        if (cb)
            cb(pending.substr(start, nl - start));
        start = nl + 1;
    }
    pending.erase(0, start);
    if (flush_all && !pending.empty()) {
        if (cb)
            cb(pending);
        pending.clear();
    }
}

} // namespace

int local_job_limit() {
    static const int limit = [] {
        // Each child costs this process six descriptors while it starts and three while it
        // runs; machines in flight need theirs too (SSH sockets, files being sent). A
        // quarter of the descriptors, at 24 a job, and never more than 16 jobs at once.
        rlimit rl{};
        long fds = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                       ? static_cast<long>(rl.rlim_cur)
                       : 1024;
        return static_cast<int>(std::clamp(fds / 4 / 24, 1L, 16L));
    }();
    return limit;
}

namespace {
// Holds one of the local_job_limit() slots while a child runs.
class LocalJobSlot {
  public:
    LocalJobSlot() {
        std::unique_lock lock(mutex());
        cv().wait(lock, [] { return running() < local_job_limit(); });
        ++running();
    }
    ~LocalJobSlot() {
        {
            std::lock_guard lock(mutex());
            --running();
        }
        cv().notify_one();
    }
    LocalJobSlot(const LocalJobSlot&) = delete;
    LocalJobSlot& operator=(const LocalJobSlot&) = delete;
    static int peak() {
        std::lock_guard lock(mutex());
        return peak_value();
    }
    static void note_peak() {
        std::lock_guard lock(mutex());
        peak_value() = std::max(peak_value(), running());
    }

  private:
    static std::mutex& mutex() {
        static std::mutex m;
        return m;
    }
    static std::condition_variable& cv() {
        static std::condition_variable c;
        return c;
    }
    static int& running() {
        static int n = 0;
        return n;
    }
    static int& peak_value() {
        static int n = 0;
        return n;
    }
};
} // namespace

int local_jobs_peak() {
    return LocalJobSlot::peak();
}

namespace {

// Writes the child's stdin without blocking, as fast as the pipe takes it, then closes it.
struct StdinFeeder {
    int fd;
    std::string data;
    std::size_t written = 0;

    StdinFeeder(int fd_, std::string data_) : fd(fd_), data(std::move(data_)) {
        if (data.empty())
            close_fd(fd);
        else
            fcntl(fd, F_SETFL, O_NONBLOCK);
    }

    void on_writable() {
        ssize_t w = ::write(fd, data.data() + written, data.size() - written);
        if (w > 0)
            written += w;
        if (w < 0 && errno != EAGAIN && errno != EINTR)
            written = data.size(); // child closed stdin; give up on the rest
        if (written == data.size())
            close_fd(fd);
    }
};

// Captures one output pipe of the child and hands its complete lines to `on_line`.
struct OutputReader {
    int fd;
    std::string& captured;
    const std::function<void(const std::string&)>& on_line;
    std::string pending = {};

    void on_readable() {
        char buf[65536];
        ssize_t r = ::read(fd, buf, sizeof buf);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            return;
        if (r <= 0) {
            emit_lines(pending, on_line, true);
            close_fd(fd);
            return;
        }
        captured.append(buf, r);
        pending.append(buf, r);
        emit_lines(pending, on_line, false);
    }
};

// Feeds stdin and reads stdout and stderr until both outputs are closed.
void pump(StdinFeeder& in, OutputReader& out, OutputReader& err) {
    enum Which { Out, Err, In };
    while (out.fd >= 0 || err.fd >= 0) {
        pollfd fds[3];
        Which which[3];
        int nfds = 0;
        auto watch = [&](int fd, short events, Which w) {
            if (fd < 0)
                return;
            fds[nfds] = {fd, events, 0};
            which[nfds++] = w;
        };
        watch(out.fd, POLLIN, Out);
        watch(err.fd, POLLIN, Err);
        watch(in.fd, POLLOUT, In);
        if (poll(fds, nfds, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < nfds; ++i) {
            if (!fds[i].revents)
                continue;
            if (which[i] == In)
                in.on_writable();
            else
                (which[i] == Out ? out : err).on_readable();
        }
    }
}

int wait_for_exit(int pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return decode_status(status);
}

} // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& opts) {
    // However many machines or systems call at once, only so many children run.
    LocalJobSlot slot;
    LocalJobSlot::note_peak();
    Pipe in, out, err;
    int pid = spawn(argv, opts, in, out, err);
    ProcessResult result;
    StdinFeeder feeder(in.fd[1], opts.stdin_data.value_or(""));
    OutputReader out_reader{out.fd[0], result.out, opts.on_stdout_line};
    OutputReader err_reader{err.fd[0], result.err, opts.on_stderr_line};
    pump(feeder, out_reader, err_reader);
    close_fd(feeder.fd);
    result.exit_code = wait_for_exit(pid);
    return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& opts) {
    Pipe in, out, err;
    pid_ = spawn(argv, opts, in, out, err);
    in_fd_ = in.fd[1];
    in.fd[1] = -1;
    out_fd_ = out.fd[0];
    out.fd[0] = -1;
    err_fd_ = err.fd[0];
    err.fd[0] = -1;
    fcntl(err_fd_, F_SETFL, O_NONBLOCK);
}

ChildProcess::~ChildProcess() {
    if (!exit_code_ && pid_ > 0) {
        close_fd(in_fd_);
        close_fd(out_fd_);
        kill(pid_, SIGTERM);
        int st;
        waitpid(pid_, &st, 0);
    }
    close_fd(in_fd_);
    close_fd(out_fd_);
    close_fd(err_fd_);
}

void ChildProcess::drain_stderr(bool block) {
    if (err_fd_ < 0)
        return;
    if (block)
        fcntl(err_fd_, F_SETFL, 0);
    char buf[4096];
    for (;;) {
        ssize_t r = ::read(err_fd_, buf, sizeof buf);
        if (r > 0) {
            err_.append(buf, r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            close_fd(err_fd_);
        return;
    }
}

std::size_t ChildProcess::read_some(char* buf, std::size_t n) {
    for (;;) {
        // Keep stderr flowing so a chatty child never blocks on a full stderr pipe.
        pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
        int nfds = err_fd_ >= 0 ? 2 : 1;
        if (poll(fds, nfds, -1) < 0 && errno != EINTR)
            throw Error(fmt::format("poll failed: {}", std::strerror(errno)));
        if (nfds == 2 && fds[1].revents)
            drain_stderr(false);
        if (fds[0].revents) {
            ssize_t r = ::read(out_fd_, buf, n);
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0)
                throw Error(fmt::format("read from child failed: {}", std::strerror(errno)));
            return static_cast<std::size_t>(r);
        }
    }
}

void ChildProcess::write(const char* buf, std::size_t n) {
    while (n > 0) {
        ssize_t w = ::write(in_fd_, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            throw Error(fmt::format("write to child failed: {}", std::strerror(errno)));
        buf += w;
        n -= w;
    }
}

void ChildProcess::close_input() {
    close_fd(in_fd_);
}

int ChildProcess::wait() {
    if (exit_code_)
        return *exit_code_;
    close_fd(in_fd_);
    drain_stderr(true);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    exit_code_ = decode_status(status);
    return *exit_code_;
}

std::string shell_quote(const std::string& word) {
    if (!word.empty() &&
        word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                               "0123456789@%+=:,./_-") == std::string::npos)
        return word;
    std::string out = "'";
    for (char c : word) {
        if (c == '\'')
            out += "'\\''";
        else
            out += c;
    }
    return out + "'";
}

std::string shell_join(const std::vector<std::string>& argv) {
    std::string out;
    for (const auto& a : argv) {
        if (!out.empty())
            out += ' ';
        out += shell_quote(a);
    }
    return out;
}

} // namespace fedi
