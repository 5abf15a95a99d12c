// Upload and download throughput of fedi's SSH channels against OpenSSH's ssh, in the
// same run, over loopback to a throwaway sshd (needs root, like the sshd tests).
// Usage: ssh_throughput [MEBIBYTES [ROUNDS]]   (default 500 MiB, 3 rounds)
// Rounds alternate fedi and ssh so that load from other processes hits both alike; the
// median of each is reported.
#include "sshd_fixture.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

using namespace fedi;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kChunk = 1 << 20;

double mb_per_s(std::size_t bytes, Clock::time_point start) {
    double s = std::chrono::duration<double>(Clock::now() - start).count();
    return double(bytes) / 1e6 / s;
}

std::string chunk() {
    std::string c(kChunk, '\0');
    unsigned x = 12345;
    for (auto& ch : c) {
        x = x * 1103515245 + 12345;
        ch = char(x >> 24);
    }
    return c;
}

double fedi_upload(ssh::Session& s, std::size_t total) {
    auto data = chunk();
    auto start = Clock::now();
    auto ch = s.exec("cat >/dev/null");
    for (std::size_t sent = 0; sent < total; sent += kChunk)
        ch->write(data.data(), kChunk);
    ch->close_input();
    if (ch->wait_exit_status() != 0)
        throw Error("remote cat failed: " + ch->stderr_text());
    return mb_per_s(total, start);
}

double fedi_download(ssh::Session& s, std::size_t total) {
    auto start = Clock::now();
    auto ch = s.exec("head -c " + std::to_string(total) + " /dev/zero");
    std::string buf(kChunk, '\0');
    std::size_t got = 0;
    while (std::size_t n = ch->read_some(buf.data(), buf.size()))
        got += n;
    if (ch->wait_exit_status() != 0 || got != total)
        throw Error("download came out short");
    return mb_per_s(total, start);
}

std::vector<std::string> ssh_argv(const test::Sshd& sshd, const std::vector<std::string>& extra,
                                  const std::string& command) {
    std::vector<std::string> argv = {"ssh",
                                     "-o",
                                     "BatchMode=yes",
                                     "-o",
                                     "StrictHostKeyChecking=no",
                                     "-o",
                                     "UserKnownHostsFile=/dev/null",
                                     "-o",
                                     "LogLevel=ERROR",
                                     "-i",
                                     sshd.client_ed25519.private_path,
                                     "-p",
                                     std::to_string(sshd.port())};
    argv.insert(argv.end(), extra.begin(), extra.end());
    argv.push_back("root@127.0.0.1");
    argv.push_back(command);
    return argv;
}

double openssh_upload(const test::Sshd& sshd, const std::vector<std::string>& extra,
                      std::size_t total) {
    auto data = chunk();
    auto start = Clock::now();
    ChildProcess ssh(ssh_argv(sshd, extra, "cat >/dev/null"));
    for (std::size_t sent = 0; sent < total; sent += kChunk)
        ssh.write(data.data(), kChunk);
    if (ssh.wait() != 0)
        throw Error("ssh failed: " + ssh.stderr_text());
    return mb_per_s(total, start);
}

double openssh_download(const test::Sshd& sshd, const std::vector<std::string>& extra,
                        std::size_t total) {
    auto start = Clock::now();
    ChildProcess ssh(ssh_argv(sshd, extra, "head -c " + std::to_string(total) + " /dev/zero"));
    std::string buf(kChunk, '\0');
    std::size_t got = 0;
    while (std::size_t n = ssh.read_some(buf.data(), buf.size()))
        got += n;
    if (ssh.wait() != 0 || got != total)
        throw Error("ssh download came out short: " + ssh.stderr_text());
    return mb_per_s(total, start);
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    try {
        std::size_t mb = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 500;
        int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
        std::size_t total = mb * kChunk;
        test::Sshd::Options opts;
        opts.rsa_keys = false;
        test::Sshd sshd(opts);
        auto session = ssh::Session::connect(sshd.connect_options());
        // libssh2 1.10 has neither chacha20-poly1305 nor AES-GCM: compare against ssh with
        // its default cipher and with the cipher and MAC libssh2 negotiates.
        const std::vector<std::string> same_cipher = {"-c", "aes128-ctr", "-m", "hmac-sha2-256"};

        std::vector<double> fu, ou, ou2, fd, od, od2;
        for (int r = 0; r < rounds; ++r) {
            fu.push_back(fedi_upload(*session, total));
            ou.push_back(openssh_upload(sshd, {}, total));
            ou2.push_back(openssh_upload(sshd, same_cipher, total));
            fd.push_back(fedi_download(*session, total));
            od.push_back(openssh_download(sshd, {}, total));
            od2.push_back(openssh_download(sshd, same_cipher, total));
        }
        std::printf("%zu MiB over loopback, median of %d rounds, MB/s (higher is better)\n", mb,
                    rounds);
        auto row = [](const char* what, double f, double o, double o2) {
            std::printf("%-8s fedi %6.0f | ssh %6.0f (fedi/ssh %.2f) | ssh -c aes128-ctr -m "
                        "hmac-sha2-256 %6.0f (fedi/ssh %.2f)\n",
                        what, f, o, f / o, o2, f / o2);
        };
        row("upload", median(fu), median(ou), median(ou2));
        row("download", median(fd), median(od), median(od2));
    } catch (const Error& e) {
        std::fprintf(stderr, "ssh_throughput: %s\n", e.describe().c_str());
        return 1;
    }
}
