#pragma once
// How much a command does at once, decided in one place.
#include <semaphore>

namespace fedi::session {

struct Limits {
    // Machines worked on at once: they mostly wait on the network and the remote side.
    int machines = 16;
    // Closures streamed at once: each costs deployer CPU (NAR, encryption) and shares one
    // uplink, so more at once only slows each down.
    int pushes = 4;

    // The operator's --parallel and --max-pushes (0: the defaults above).
    static Limits from_options(int machines, int pushes);
};

// A bounded number of slots; Slots::Held keeps one for its lifetime.
class Slots {
  public:
    explicit Slots(int count) : semaphore_(count > 0 ? count : 1) {}
    class Held {
      public:
        explicit Held(Slots& s) : s_(s) { s_.semaphore_.acquire(); }
        ~Held() { s_.semaphore_.release(); }
        Held(const Held&) = delete;
        Held& operator=(const Held&) = delete;

      private:
        Slots& s_;
    };

  private:
    std::counting_semaphore<> semaphore_;
};

inline Limits Limits::from_options(int machines, int pushes) {
    Limits l;
    if (machines > 0)
        l.machines = machines;
    if (pushes > 0)
        l.pushes = pushes;
    return l;
}

} // namespace fedi::session
