#include "ui/output.hpp"

#include "state/state.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fmt/format.h>
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
    const char* term = std::getenv("TERM");
    if (term && std::string(term) == "dumb")
        return false;
    return isatty(fd);
}

Reporter::Reporter(OutputOptions opts)
    : opts_(opts), tty_(isatty(2)), color_(use_color(opts.color, 2)) {}

void Reporter::log(Level level, const std::string& subject, const std::string& message) {
    if (level == Level::Detail && opts_.verbosity < Verbosity::Verbose)
        return;
    if (level == Level::Info && opts_.verbosity < Verbosity::Normal)
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
    if (!tty_ || opts_.verbosity < Verbosity::Normal)
        return;
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find_if(live_.begin(), live_.end(),
                           [&](const auto& entry) { return entry.first == subject; });
    if (it == live_.end()) {
        live_.emplace_back(subject, text);
        force = true;
    } else {
        it->second = text;
    }
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
    for (const auto& [subject, text] : live_)
        width = std::max(width, subject.size());
    for (const auto& [subject, text] : live_) {
        std::string line = fmt::format("{:<{}}  {}", subject, width, text);
        if (line.size() > 160)
            line.resize(160);
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
