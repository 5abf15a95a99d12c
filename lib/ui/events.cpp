#include "ui/events.hpp"

namespace fedi::ui {

void RecordingEvents::log(Level level, const std::string& subject, const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.push_back({level, subject, message});
}

void RecordingEvents::status(const std::string& subject, const std::string& text, bool) {
    std::lock_guard<std::mutex> lock(mutex_);
    statuses_.emplace_back(subject, text);
}

void RecordingEvents::status_since(const std::string& subject, const std::string& text,
                                   std::chrono::steady_clock::time_point, bool force) {
    status(subject, text, force);
}

std::vector<RecordingEvents::Entry> RecordingEvents::entries() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_;
}

std::vector<std::string> RecordingEvents::statuses(const std::string& subject) const {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& [s, text] : statuses_)
        if (s == subject)
            out.push_back(text);
    return out;
}

bool RecordingEvents::said(const std::string& subject, const std::string& text) const {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& e : entries_)
        if ((subject.empty() || e.subject == subject) && e.message.find(text) != std::string::npos)
            return true;
    return false;
}

} // namespace fedi::ui
