#pragma once
// What every long-running command tells the people and scripts watching it: log lines
// about a subject (usually a machine) and live status lines. The terminal reporter
// (ui/output.hpp) shows them; tests record them (RecordingEvents).
#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace fedi::ui {

enum class Level { Detail, Info, Warning, Error };

class Events {
  public:
    virtual ~Events() = default;
    virtual void log(Level level, const std::string& subject, const std::string& message) = 0;
    void info(const std::string& subject, const std::string& m) { log(Level::Info, subject, m); }
    void detail(const std::string& subject, const std::string& m) {
        log(Level::Detail, subject, m);
    }
    void warn(const std::string& subject, const std::string& m) { log(Level::Warning, subject, m); }
    void error(const std::string& subject, const std::string& m) { log(Level::Error, subject, m); }
    // Whether lines of `level` are shown (a log already streamed need not be repeated).
    virtual bool shows(Level level) const = 0;
    // The live status line of one subject; `force` redraws within the throttle interval.
    virtual void status(const std::string& subject, const std::string& text,
                        bool force = false) = 0;
    // A live line whose clock counts from `since`.
    virtual void status_since(const std::string& subject, const std::string& text,
                              std::chrono::steady_clock::time_point since, bool force = true) = 0;
    virtual void remove_status(const std::string& subject) = 0;
    // Removes every live line (before a summary is printed).
    virtual void end_status() = 0;
};

// Keeps everything it is told, for tests: log lines and status changes in order.
class RecordingEvents : public Events {
  public:
    struct Entry {
        Level level;
        std::string subject;
        std::string message;
    };
    void log(Level level, const std::string& subject, const std::string& message) override;
    bool shows(Level) const override { return true; }
    void status(const std::string& subject, const std::string& text, bool force) override;
    void status_since(const std::string& subject, const std::string& text,
                      std::chrono::steady_clock::time_point since, bool force) override;
    void remove_status(const std::string&) override {}
    void end_status() override {}

    std::vector<Entry> entries() const;
    // Every status text a subject had, in order.
    std::vector<std::string> statuses(const std::string& subject) const;
    // Whether some log line about `subject` (any subject when empty) contains `text`.
    bool said(const std::string& subject, const std::string& text) const;

  private:
    mutable std::mutex mutex_;
    std::vector<Entry> entries_;
    std::vector<std::pair<std::string, std::string>> statuses_;
};

} // namespace fedi::ui
