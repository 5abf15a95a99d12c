// Remote commands over libssh2 channels, driven non-blocking: stdout and stderr are
// drained together while stdin is written, so neither side can stall the other.
#include "core/error.hpp"
#include "ssh/internal.hpp"

#include <algorithm>
#include <csignal>
#include <cstring>
#include <map>

#include <fmt/format.h>

namespace fedi::ssh {

using detail::Clock;
using LineCallback = std::function<void(const std::string&)>;

namespace {

// libssh2's default receive window (2 MB) is refilled only when a read asks for more
// than is left; we keep ours (ConnectOptions::receive_window) topped up instead.
constexpr unsigned long kMinWindow = 256UL * 1024;
constexpr unsigned long kMaxPacket = 32768;
constexpr std::size_t kReadChunk = std::size_t{64} * 1024;
// How long a command that has closed its output gets to take more input before we
// decide it stopped reading (it exited, and libssh2 cannot tell us the channel closed).
constexpr auto kGoneGrace = std::chrono::seconds(1);

int signal_number(const std::string& name) {
    static const std::map<std::string, int> numbers = {
        {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ILL", SIGILL},
        {"ABRT", SIGABRT}, {"FPE", SIGFPE},   {"KILL", SIGKILL}, {"SEGV", SIGSEGV},
        {"PIPE", SIGPIPE}, {"ALRM", SIGALRM}, {"TERM", SIGTERM}, {"USR1", SIGUSR1},
        {"USR2", SIGUSR2}, {"BUS", SIGBUS},   {"TRAP", SIGTRAP}, {"XCPU", SIGXCPU},
        {"XFSZ", SIGXFSZ}, {"SYS", SIGSYS}};
    auto it = numbers.find(name);
    return it == numbers.end() ? 0 : it->second;
}

// Appends data to the partial line in `pending` and hands every completed line to cb
// (nothing is kept without a callback). Only the new bytes are searched, so one long line
// arriving in many pieces costs linear time.
void feed_lines(std::string& pending, const char* data, std::size_t n, const LineCallback& cb) {
    if (!cb)
        return;
    std::size_t old = pending.size();
    pending.append(data, n);
    std::size_t nl = pending.find('\n', old);
    if (nl == std::string::npos)
        return;
    std::size_t start = 0;
    do {
        cb(pending.substr(start, nl - start));
        start = nl + 1;
    } while ((nl = pending.find('\n', start)) != std::string::npos);
    pending.erase(0, start);
}

// Hands the unterminated last line, if any, to cb.
void flush_lines(std::string& pending, const LineCallback& cb) {
    if (cb && !pending.empty())
        cb(pending);
    pending.clear();
}

std::string short_command(const std::string& command) {
    std::string c = command.size() > 70 ? command.substr(0, 70) + "..." : command;
    std::replace(c.begin(), c.end(), '\n', ' ');
    return "`" + c + "`";
}

} // namespace

struct Channel::State {
    std::shared_ptr<detail::Connection> conn;
    LIBSSH2_CHANNEL* ch = nullptr;
    std::string what; // the command, shortened, for messages

    std::string out_buf; // stdout that arrived while a write waited
    std::size_t out_pos = 0;
    std::string out_pending;
    LineCallback out_cb;
    std::string err, err_pending;
    LineCallback err_cb;

    bool eof_sent = false;
    bool out_eof = false; // remote EOF and nothing left to read
    std::optional<int> exit_status;
    Clock::time_point last_progress = Clock::now();

    void progress() {
        last_progress = Clock::now();
        conn->note_progress();
    }

    void wait(const std::string& doing) {
        wait_until(last_progress + conn->opts.idle_timeout, doing);
    }

    void wait_until(Clock::time_point deadline, const std::string& doing) {
        if (!conn->wait(deadline))
            conn->idle_failure(doing + " " + what);
    }

    // Repeats a call that sends a packet while it says EAGAIN; nothing else may be sent
    // meanwhile (libssh2 1.10 rejects a second packet while one is half sent).
    template <typename F> int finish_send(F call, const std::string& doing) {
        int rc;
        while ((rc = call()) == LIBSSH2_ERROR_EAGAIN) {
            conn->send_pending = true;
            wait(doing);
        }
        conn->send_pending = false;
        if (rc < 0)
            conn->fail(rc, doing + " " + what);
        return rc;
    }

    unsigned long window() const {
        return std::clamp<unsigned long>(conn->opts.receive_window, kMinWindow, 1ul << 30);
    }

    void top_up_window() {
        unsigned long win = libssh2_channel_window_read_ex(ch, nullptr, nullptr);
        if (win >= window() / 2)
            return;
        unsigned int ignored;
        finish_send(
            [&] { return libssh2_channel_receive_window_adjust2(ch, window() - win, 1, &ignored); },
            "opening the receive window for");
    }

    // Reads what is available of one stream without blocking: >0 bytes, or 0 when none
    // (eof says whether the channel's output has ended). Never reads while a packet is
    // half sent, and never asks for more than the window, so libssh2 sends nothing here.
    std::size_t read_available(int stream, char* buf, std::size_t n, bool& eof) {
        eof = false;
        if (conn->send_pending)
            return 0;
        top_up_window();
        n = std::min<std::size_t>(n, libssh2_channel_window_read_ex(ch, nullptr, nullptr));
        if (n == 0)
            return 0;
        ssize_t r = libssh2_channel_read_ex(ch, stream, buf, n);
        if (r > 0) {
            progress();
            return std::size_t(r);
        }
        if (r == 0 || r == LIBSSH2_ERROR_EAGAIN) {
            eof = libssh2_channel_eof(ch) == 1;
            return 0;
        }
        conn->fail(int(r), "reading the output of " + what);
    }

    bool drain_stderr() {
        char buf[kReadChunk];
        bool moved = false, eof;
        while (std::size_t n = read_available(SSH_EXTENDED_DATA_STDERR, buf, sizeof buf, eof)) {
            err.append(buf, n);
            feed_lines(err_pending, buf, n, err_cb);
            moved = true;
        }
        return moved;
    }

    // Drains stderr and stdout (into `out`, or dropped when null); true if bytes moved.
    bool pump(std::string* out) {
        bool moved = drain_stderr();
        char buf[kReadChunk];
        bool eof = false;
        while (std::size_t n = read_available(0, buf, sizeof buf, eof)) {
            if (out)
                out->append(buf, n);
            feed_lines(out_pending, buf, n, out_cb);
            moved = true;
        }
        if (eof)
            mark_eof();
        // Reading one stream may have queued data of the other without reporting it:
        // say so, or the caller would wait on a socket that has nothing more to say.
        return moved || (!eof && queued());
    }

    bool queued() const {
        unsigned long avail = 0;
        libssh2_channel_window_read_ex(ch, &avail, nullptr);
        return avail > 0;
    }

    void mark_eof() {
        drain_stderr();
        out_eof = true;
        flush_lines(out_pending, out_cb);
        flush_lines(err_pending, err_cb);
    }

    // One attempt to send; returns the bytes taken (0 when blocked).
    std::size_t write_step(const char* p, std::size_t n) {
        ssize_t r = libssh2_channel_write(ch, p, n);
        if (r > 0) {
            conn->send_pending = false;
            progress();
            return std::size_t(r);
        }
        if (r == 0 || r == LIBSSH2_ERROR_EAGAIN) {
            // EAGAIN with window to spare means the packet is half sent and must be
            // finished by calling again with the same arguments.
            conn->send_pending =
                r == LIBSSH2_ERROR_EAGAIN && libssh2_channel_window_write_ex(ch, nullptr) > 0;
            return 0;
        }
        conn->send_pending = false;
        conn->fail(int(r), "sending input to " + what);
    }

    // While a write is blocked: keeps output flowing and waits. Returns false when the
    // command has closed its output and stopped taking input (it has most likely exited).
    bool wait_for_window(std::string* out) {
        if (conn->send_pending) {
            wait("sending input to");
            return true;
        }
        if (pump(out))
            return true;
        if (out_eof && libssh2_channel_window_write_ex(ch, nullptr) == 0) {
            auto deadline =
                std::min(Clock::now() + kGoneGrace, last_progress + conn->opts.idle_timeout);
            return conn->wait(deadline);
        }
        wait("sending input to");
        return true;
    }

    void send_eof() {
        if (eof_sent)
            return;
        finish_send([&] { return libssh2_channel_send_eof(ch); }, "closing the input of");
        eof_sent = true;
    }

    std::string stderr_tail() const {
        std::string tail = err.size() > 2000 ? "..." + err.substr(err.size() - 2000) : err;
        while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' '))
            tail.pop_back();
        return tail.empty() ? "" : "; its stderr:\n" + tail;
    }

    int finish() {
        if (exit_status)
            return *exit_status;
        send_eof();
        last_progress = Clock::now();
        while (!out_eof)
            if (!pump(nullptr) && !out_eof)
                wait("waiting for the end of");
        // The exit status comes with (or before) the server's close; wait for it, reading
        // only, then send our close.
        int rc;
        while ((rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
            wait("waiting for the end of");
        if (rc < 0)
            conn->fail(rc, "waiting for the end of " + what);
        finish_send([&] { return libssh2_channel_close(ch); }, "closing");
        char* sig = nullptr;
        std::size_t sig_len = 0;
        libssh2_channel_get_exit_signal(ch, &sig, &sig_len, nullptr, nullptr, nullptr, nullptr);
        if (sig) {
            std::string name(sig, sig_len);
            libssh2_free(conn->session, sig);
            int num = signal_number(name);
            exit_status = 128 + (num ? num : 0);
        } else {
            exit_status = libssh2_channel_get_exit_status(ch);
        }
        return *exit_status;
    }
};

Channel::Channel(std::unique_ptr<State> state) : s_(std::move(state)) {}

Channel::~Channel() {
    if (!s_ || !s_->ch)
        return;
    auto& conn = *s_->conn;
    if (conn.broken() || conn.send_pending) {
        // Cannot say goodbye on this connection; make sure freeing does not wait.
        conn.abort();
        libssh2_channel_free(s_->ch);
        return;
    }
    auto deadline = Clock::now() + std::chrono::seconds(2);
    int rc;
    while ((rc = libssh2_channel_free(s_->ch)) == LIBSSH2_ERROR_EAGAIN) {
        bool ready = false;
        try {
            ready = conn.wait(deadline);
        } catch (const Error&) {
        }
        if (!ready) {
            conn.abort();
            libssh2_channel_free(s_->ch);
            return;
        }
    }
}

std::size_t Channel::read_some(char* buf, std::size_t n) {
    auto& s = *s_;
    if (s.out_pos < s.out_buf.size()) {
        std::size_t take = std::min(n, s.out_buf.size() - s.out_pos);
        std::copy_n(s.out_buf.data() + s.out_pos, take, buf);
        s.out_pos += take;
        if (s.out_pos == s.out_buf.size()) {
            s.out_buf.clear();
            s.out_pos = 0;
        }
        return take;
    }
    if (s.out_eof || n == 0)
        return 0;
    s.conn->check_usable();
    s.last_progress = Clock::now();
    for (;;) {
        bool moved = s.drain_stderr();
        bool eof = false;
        if (std::size_t got = s.read_available(0, buf, std::min(n, kReadChunk), eof))
            return got;
        if (eof) {
            s.mark_eof();
            return 0;
        }
        // Reading one stream may have queued data of the other: look again before waiting.
        if (moved || s.queued())
            continue;
        s.wait("reading the output of");
    }
}

void Channel::write(const char* buf, std::size_t n) {
    auto& s = *s_;
    s.conn->check_usable();
    if (s.eof_sent)
        throw Error(
            fmt::format("{}: cannot write to {} after closing its input", s.conn->where, s.what));
    s.last_progress = Clock::now();
    std::size_t done = 0;
    while (done < n) {
        if (std::size_t w = s.write_step(buf + done, n - done)) {
            done += w;
            continue;
        }
        // Keep the command's stdout for read_some, so a command echoing its input
        // cannot block on a full window while we block on its stdin.
        if (!s.wait_for_window(&s.out_buf))
            throw Error(fmt::format("{}: {} stopped reading its input (it exited?){}",
                                    s.conn->where, s.what, s.stderr_tail()));
    }
}

void Channel::close_input() {
    s_->conn->check_usable();
    s_->send_eof();
}

int Channel::wait_exit_status() {
    if (!s_->exit_status)
        s_->conn->check_usable();
    return s_->finish();
}

std::string Channel::stderr_text() const {
    return s_->err;
}

void Channel::on_stderr_line(std::function<void(const std::string&)> cb) {
    s_->err_cb = std::move(cb);
}

std::unique_ptr<Channel> Session::exec(const std::string& command) {
    conn_->check_usable();
    auto state = std::make_unique<Channel::State>();
    state->conn = conn_;
    state->what = short_command(command);
    auto& s = *state;
    LIBSSH2_CHANNEL* ch;
    auto asked = Clock::now();
    while (!(ch = libssh2_channel_open_ex(conn_->session, "session", 7, s.window(), kMaxPacket,
                                          nullptr, 0))) {
        int e = libssh2_session_last_errno(conn_->session);
        if (e != LIBSSH2_ERROR_EAGAIN) {
            conn_->send_pending = false;
            conn_->fail(e, "opening a channel for " + s.what);
        }
        conn_->send_pending = true;
        s.wait("opening a channel for");
    }
    conn_->send_pending = false;
    auto took = Clock::now() - asked;
    conn_->round_trip = std::min(conn_->round_trip.value_or(took), took);
    s.ch = ch;
    auto channel = std::unique_ptr<Channel>(new Channel(std::move(state)));
    int rc;
    while ((rc = libssh2_channel_exec(ch, command.c_str())) == LIBSSH2_ERROR_EAGAIN) {
        conn_->send_pending = true;
        s.wait("starting");
    }
    conn_->send_pending = false;
    if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED)
        throw Error(fmt::format("{}: the server refused to run {}", conn_->where, s.what));
    if (rc < 0)
        conn_->fail(rc, "starting " + s.what);
    return channel;
}

ExecResult Session::run(const std::string& command, const std::optional<std::string>& stdin_data,
                        std::function<void(const std::string&)> on_stdout_line,
                        std::function<void(const std::string&)> on_stderr_line) {
    auto channel = exec(command);
    auto& s = *channel->s_;
    s.out_cb = std::move(on_stdout_line);
    s.err_cb = std::move(on_stderr_line);
    ExecResult result;
    const std::string empty;
    const std::string& in = stdin_data ? *stdin_data : empty;
    std::size_t done = 0;
    s.last_progress = Clock::now();
    while (done < in.size()) {
        if (std::size_t w = s.write_step(in.data() + done, in.size() - done)) {
            done += w;
            if (!s.conn->send_pending)
                s.pump(&result.out);
            continue;
        }
        if (!s.wait_for_window(&result.out))
            break; // the command stopped reading; like a pipe, the rest is dropped
    }
    s.send_eof();
    while (!s.out_eof)
        if (!s.pump(&result.out) && !s.out_eof)
            s.wait("waiting for the output of");
    result.exit_status = s.finish();
    result.err = s.err;
    return result;
}

} // namespace fedi::ssh
