#pragma once
// Keeping secrets out of places they outlive fedi: core dumps and freed memory.
#include <string>

namespace fedi {

// Makes this process non-dumpable (no core file, no ptrace by unprivileged peers, no
// /proc/<pid>/mem for other users) and sets its core size limit to 0. main() calls it
// before anything reads a secret. Throws if the kernel refuses.
void make_process_undumpable();

// Overwrites a string's bytes (in a way the compiler may not optimise away), then
// empties it.
void wipe(std::string& secret) noexcept;

// Wipes a string when the scope ends, however it ends.
class WipeOnExit {
  public:
    explicit WipeOnExit(std::string& secret) : secret_(secret) {}
    WipeOnExit(const WipeOnExit&) = delete;
    WipeOnExit& operator=(const WipeOnExit&) = delete;
    ~WipeOnExit() { wipe(secret_); }

  private:
    std::string& secret_;
};

} // namespace fedi
