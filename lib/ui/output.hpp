#pragma once
// How fedi talks to people and scripts: results on stdout (a table, or one JSON
// document with --json), progress and logs on stderr (plain timestamped lines when
// stderr is not a terminal, so CI logs read well).
#include "ui/events.hpp"

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace fedi::ui {

enum class Verbosity { Quiet = 0, Normal = 1, Verbose = 2 };
enum class ColorMode { Auto, Always, Never };

struct OutputOptions {
    bool json = false;
    Verbosity verbosity = Verbosity::Normal;
    ColorMode color = ColorMode::Auto;
};

// Thread-safe progress reporter on stderr; each line names the machine it is about.
class Reporter : public Events {
  public:
    explicit Reporter(OutputOptions opts);
    ~Reporter();
    Reporter(const Reporter&) = delete;
    Reporter& operator=(const Reporter&) = delete;
    void log(Level level, const std::string& subject, const std::string& message) override;
    bool color() const { return color_; }
    // Whether lines of `level` are shown (a log already streamed need not be repeated).
    bool shows(Level level) const override;
    const OutputOptions& options() const { return opts_; }

    // The live status line of one subject (a machine): on a terminal, one line per
    // subject redrawn in place below the log; elsewhere nothing (phase changes are
    // logged with info()). `force` redraws even within the throttle interval.
    void status(const std::string& subject, const std::string& text, bool force = false) override;
    // A live line with a clock: the time since `since` follows the text and advances
    // (redrawn every second) while nothing else happens, as during an activation.
    void status_since(const std::string& subject, const std::string& text,
                      std::chrono::steady_clock::time_point since, bool force = true) override;
    // Removes one subject's live line.
    void remove_status(const std::string& subject) override;
    // Removes the live lines (before the summary is printed).
    void end_status() override;

  private:
    struct Live {
        std::string subject;
        std::string text;
        std::optional<std::chrono::steady_clock::time_point> since;
    };
    void set_live(Live entry, bool force);
    void clear_live_locked();
    void draw_live_locked();
    void tick();

    OutputOptions opts_;
    bool tty_; // stderr is a terminal that can move the cursor (not TERM=dumb)
    bool color_;
    std::mutex mutex_;
    std::vector<Live> live_;
    std::size_t drawn_ = 0; // live lines on screen
    long long last_draw_ms_ = 0;
    // Redraws clocks once a second; started with the first live line that has one.
    std::thread ticker_;
    std::condition_variable ticker_wake_;
    bool stopping_ = false;
};

// `line` cut to at most `columns` terminal columns (counting UTF-8 characters, not
// bytes), so a live line never wraps: a wrapped line would leave a stale row behind
// when the live block is redrawn.
std::string fit_to_width(const std::string& line, std::size_t columns);

// The width of the terminal on `fd`; $COLUMNS or 80 when it cannot be asked.
std::size_t terminal_columns(int fd);

// Whether $TERM says the terminal cannot move the cursor or colour text (TERM=dumb).
bool dumb_terminal();

// Whether to colour a stream given the mode, NO_COLOR and whether it is a terminal.
bool use_color(ColorMode mode, int fd);

// A plain text table with aligned columns (the first row is the header).
std::string render_table(const std::vector<std::vector<std::string>>& rows, bool color = false);

std::string human_bytes(unsigned long long bytes);
std::string human_duration(double seconds);

} // namespace fedi::ui
