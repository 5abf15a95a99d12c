#pragma once
// Local child processes without a shell: argv is passed as is, so nothing a user wrote
// is ever interpreted by /bin/sh, and secrets never need to be in argv (feed them on
// stdin instead).
#include "core/enum_names.hpp"
#include "core/io.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fedi {

struct ProcessOptions {
    std::map<std::string, std::string> extra_env; // added to (or overriding) our environment
    std::optional<std::string> cwd;
    std::optional<std::string> stdin_data; // written to the child's stdin, then closed
    // Called with each line the child writes to stderr (without the newline), as it comes.
    std::function<void(const std::string&)> on_stderr_line;
    // Called with each line on stdout as it comes; stdout is still captured.
    std::function<void(const std::string&)> on_stdout_line;
};

struct ProcessResult {
    int exit_code = -1; // the exit status, or 128 + signal when killed by a signal
    std::string out;    // everything on stdout
    std::string err;    // everything on stderr
    bool ok() const { return exit_code == 0; }
};

// Runs argv[0] (looked up in PATH) to completion, capturing stdout and stderr.
// Throws fedi::Error only when the program cannot be started. At most local_job_limit()
// run at once in this process (callers beyond wait): one call per machine or system
// must not exhaust file descriptors.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& opts = {});

// How many run_process children may run at once: from RLIMIT_NOFILE (read once), 1 to 16.
int local_job_limit();
// The most run_process children that ran at once so far (for tests).
int local_jobs_peak();

// A running child whose stdin and stdout are streams, for protocols spoken over pipes
// (e.g. `nix-store --serve`). stderr is collected and available after wait().
class ChildProcess : public Duplex, NonCopyable {
  public:
    explicit ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& opts = {});
    ~ChildProcess() override;

    std::size_t read_some(char* buf, std::size_t n) override;
    void write(const char* buf, std::size_t n) override;
    using Duplex::write;
    void close_input() override;
    // Closes stdin, waits for exit; returns the exit code (128 + signal when killed).
    int wait();
    const std::string& stderr_text() const { return err_; }

  private:
    void drain_stderr(bool block);
    int pid_ = -1;
    int in_fd_ = -1, out_fd_ = -1, err_fd_ = -1;
    std::string err_;
    std::optional<int> exit_code_;
};

// Quotes a word for a POSIX shell (used for commands run remotely over SSH).
std::string shell_quote(const std::string& word);
std::string shell_join(const std::vector<std::string>& argv);

} // namespace fedi
