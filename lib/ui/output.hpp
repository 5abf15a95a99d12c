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

  private:
    OutputOptions opts_;
    bool tty_;
    bool color_;
    std::mutex mutex_;
};

// Whether to colour a stream given the mode, NO_COLOR and whether it is a terminal.
bool use_color(ColorMode mode, int fd);

// A plain text table with aligned columns (the first row is the header).
std::string render_table(const std::vector<std::vector<std::string>>& rows, bool color = false);

std::string human_bytes(unsigned long long bytes);
std::string human_duration(double seconds);

} // namespace fedi::ui
