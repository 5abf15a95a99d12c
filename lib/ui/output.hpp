#pragma once
// How fedi talks to people and scripts: results on stdout (a table, or one JSON
// document with --json), progress and logs on stderr (plain timestamped lines when
// stderr is not a terminal, so CI logs read well).
#include <mutex>
#include <string>
#include <vector>

namespace fedi::ui {

enum class Verbosity { Quiet = 0, Normal = 1, Verbose = 2 };
enum class ColorMode { Auto, Always, Never };

struct OutputOptions {
    bool json = false;
    Verbosity verbosity = Verbosity::Normal;
    ColorMode color = ColorMode::Auto;
};

enum class Level { Detail, Info, Warning, Error };

// Thread-safe progress reporter on stderr; each line names the machine it is about.
class Reporter {
  public:
    explicit Reporter(OutputOptions opts);
    void log(Level level, const std::string& subject, const std::string& message);
    void info(const std::string& subject, const std::string& m) { log(Level::Info, subject, m); }
    void detail(const std::string& subject, const std::string& m) {
        log(Level::Detail, subject, m);
    }
    void warn(const std::string& subject, const std::string& m) { log(Level::Warning, subject, m); }
    void error(const std::string& subject, const std::string& m) { log(Level::Error, subject, m); }
    bool color() const { return color_; }
    const OutputOptions& options() const { return opts_; }

    // The live status line of one subject (a machine): on a terminal, one line per
    // subject redrawn in place below the log; elsewhere nothing (phase changes are
    // logged with info()). `force` redraws even within the throttle interval.
    void status(const std::string& subject, const std::string& text, bool force = false);
    // Removes the live lines (before the summary is printed).
    void end_status();

  private:
    void clear_live_locked();
    void draw_live_locked();

    OutputOptions opts_;
    bool tty_;
    bool color_;
    std::mutex mutex_;
    std::vector<std::pair<std::string, std::string>> live_; // subject, text
    std::size_t drawn_ = 0;                                 // live lines on screen
    long long last_draw_ms_ = 0;
};

// Whether to colour a stream given the mode, NO_COLOR and whether it is a terminal.
bool use_color(ColorMode mode, int fd);

// A plain text table with aligned columns (the first row is the header).
std::string render_table(const std::vector<std::vector<std::string>>& rows, bool color = false);

std::string human_bytes(unsigned long long bytes);
std::string human_duration(double seconds);

} // namespace fedi::ui
