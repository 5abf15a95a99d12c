#pragma once
// Waiting for a new machine's SSH server to answer (its banner), before fedi hands the
// machine to the deploy.
#include <chrono>
#include <string>

namespace fedi::provider {

// Returns once HOST:PORT accepts a TCP connection and sends an "SSH-" banner; throws
// fedi::Error naming the address and the last failure when `timeout` runs out.
void wait_for_ssh(const std::string& host, int port, std::chrono::milliseconds timeout);

} // namespace fedi::provider
