#include "ui/output.hpp"

#include "state/state.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

namespace fedi::ui {

bool use_color(ColorMode mode, int fd) {
    if (mode == ColorMode::Always)
        return true;
    if (mode == ColorMode::Never)
        return false;
    const char* no_color = std::getenv("NO_COLOR");
    if (no_color && *no_color)
        return false;
    if (dumb_terminal())
        return false;
    return isatty(fd);
}

bool dumb_terminal() {
    const char* term = std::getenv("TERM");
    return term && std::string(term) == "dumb";
}

std::size_t terminal_columns(int fd) {
    winsize size{};
    if (ioctl(fd, TIOCGWINSZ, &size) == 0 && size.ws_col > 0)
        return size.ws_col;
    if (const char* columns = std::getenv("COLUMNS")) {
        char* end = nullptr;
        long n = std::strtol(columns, &end, 10);
        if (end != columns && *end == '\0' && n > 0)
            return static_cast<std::size_t>(n);
    }
    return 80;
}

std::string fit_to_width(const std::string& line, std::size_t columns) {
    std::size_t used = 0;
    for (std::size_t i = 0; i < line.size(); ++i) {
        bool starts_character = (static_cast<unsigned char>(line[i]) & 0xC0) != 0x80;
        if (starts_character && used++ == columns)
            return line.substr(0, i);
    }
    return line;
}

Reporter::Reporter(OutputOptions opts)
    : opts_(opts), tty_(isatty(2) && !dumb_terminal()), color_(use_color(opts.color, 2)) {}

Reporter::~Reporter() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    ticker_wake_.notify_all();
    if (ticker_.joinable())
        ticker_.join();
}

bool Reporter::shows(Level level) const {
    if (level == Level::Detail)
        return opts_.verbosity >= Verbosity::Verbose;
    if (level == Level::Info)
        return opts_.verbosity >= Verbosity::Normal;
    return true;
}

void Reporter::log(Level level, const std::string& subject, const std::string& message) {
    if (!shows(level))
        return;
    std::string prefix;
    if (!tty_)
        prefix = state::now_utc() + " ";
    std::string tag;
    const char* colour = "";
    switch (level) {
    case Level::Warning:
        tag = "warning: ";
        colour = "\x1b[33m";
        break;
    case Level::Error:
        tag = "error: ";
        colour = "\x1b[31m";
        break;
    default:
        break;
    }
    std::string who = subject.empty() ? "" : subject + ": ";
    std::string line;
    if (color_)
        line = fmt::format("{}\x1b[1m{}\x1b[0m{}{}\x1b[0m{}\n", prefix, who, colour, tag, message);
    else
        line = fmt::format("{}{}{}{}\n", prefix, who, tag, message);
    std::lock_guard<std::mutex> lock(mutex_);
    clear_live_locked();
    std::fwrite(line.data(), 1, line.size(), stderr);
    draw_live_locked();
    std::fflush(stderr);
}

void Reporter::status(const std::string& subject, const std::string& text, bool force) {
    set_live({subject, text, std::nullopt}, force);
}

void Reporter::status_since(const std::string& subject, const std::string& text,
                            std::chrono::steady_clock::time_point since, bool force) {
    set_live({subject, text, since}, force);
}

void Reporter::set_live(Live entry, bool force) {
    if (!tty_ || opts_.verbosity < Verbosity::Normal)
        return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(live_.begin(), live_.end(),
                           [&](const Live& l) { return l.subject == entry.subject; });
    if (it == live_.end()) {
        live_.push_back(entry);
        force = true;
    } else {
        *it = entry;
    }
    if (entry.since && !ticker_.joinable() && !stopping_)
        ticker_ = std::thread([this] { tick(); });
    long long now = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now().time_since_epoch())
                        .count();
    if (!force && now - last_draw_ms_ < 100)
        return;
    last_draw_ms_ = now;
    clear_live_locked();
    draw_live_locked();
    std::fflush(stderr);
}

void Reporter::remove_status(const std::string& subject) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(live_.begin(), live_.end(),
                           [&](const Live& l) { return l.subject == subject; });
    if (it == live_.end())
        return;
    live_.erase(it);
    clear_live_locked();
    draw_live_locked();
    std::fflush(stderr);
}

void Reporter::tick() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
        ticker_wake_.wait_for(lock, std::chrono::seconds(1));
        if (stopping_ || drawn_ == 0)
            continue;
        bool has_clock = std::any_of(live_.begin(), live_.end(),
                                     [](const Live& l) { return l.since.has_value(); });
        if (!has_clock)
            continue;
        clear_live_locked();
        draw_live_locked();
        std::fflush(stderr);
    }
}

void Reporter::end_status() {
    std::lock_guard<std::mutex> lock(mutex_);
    clear_live_locked();
    live_.clear();
    std::fflush(stderr);
}

void Reporter::clear_live_locked() {
    // Move up over the live block and erase it, so log lines scroll above it.
    for (std::size_t i = 0; i < drawn_; ++i)
        std::fputs("\x1b[1A\x1b[2K", stderr);
    drawn_ = 0;
}

void Reporter::draw_live_locked() {
    if (!tty_)
        return;
    std::size_t width = 0;
    for (const auto& l : live_)
        width = std::max(width, l.subject.size());
    // One column short of the edge: some terminals wrap when the last column is written.
    std::size_t columns = std::max<std::size_t>(terminal_columns(2), 2) - 1;
    auto now = std::chrono::steady_clock::now();
    for (const auto& l : live_) {
        std::string text = l.text;
        if (l.since)
            text =
                fmt::format("{:<40} {}", text,
                            human_duration(std::chrono::duration<double>(now - *l.since).count()));
        std::string line = fit_to_width(fmt::format("{:<{}}  {}", l.subject, width, text), columns);
        if (color_)
            line = "\x1b[2m" + line + "\x1b[0m";
        std::fputs(line.c_str(), stderr);
        std::fputc('\n', stderr);
    }
    drawn_ = live_.size();
}

std::string render_table(const std::vector<std::vector<std::string>>& rows, bool color) {
    std::vector<std::size_t> width;
    for (const auto& row : rows)
        for (std::size_t i = 0; i < row.size(); ++i) {
            if (width.size() <= i)
                width.push_back(0);
            width[i] = std::max(width[i], row[i].size());
        }
    std::string out;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        std::string line;
        for (std::size_t i = 0; i < rows[r].size(); ++i) {
            bool last = i + 1 == rows[r].size();
            line += last ? rows[r][i] : fmt::format("{:<{}}  ", rows[r][i], width[i]);
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        if (r == 0 && color)
            line = "\x1b[1m" + line + "\x1b[0m";
        out += line + "\n";
    }
    return out;
}

std::string human_bytes(unsigned long long bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = static_cast<double>(bytes);
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        ++u;
    }
    return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

std::string human_duration(double seconds) {
    if (seconds < 60)
        return fmt::format("{:.1f}s", seconds);
    int s = static_cast<int>(seconds);
    return fmt::format("{}m{:02d}s", s / 60, s % 60);
}

} // namespace fedi::ui
