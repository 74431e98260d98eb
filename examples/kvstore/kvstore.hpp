// A small key-value file store, the example a user copies to test their own code under faults:
// one file per key, replaced atomically and durably, so a put that returned true survives a
// full disk, an I/O error or a power loss. Also a UDP client that retries, for lossy networks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kvstore {

class Store {
  public:
    explicit Store(std::string dir) : m_dir(std::move(dir)) {}
    // Returns true once the value is durable (written, fsynced, renamed, directory fsynced);
    // false leaves the previous value in place.
    bool put(const std::string& key, const std::string& value);
    std::optional<std::string> get(const std::string& key) const;

  private:
    std::string m_dir;
};

// The same store without fsync: what the faults are meant to catch.
bool put_without_sync(const std::string& dir, const std::string& key, const std::string& value);

// A UDP echo server on 127.0.0.1:port that answers each datagram with itself, on a thread
// until the process exits.
void start_echo_server(uint16_t port);
// Sends `request` and waits up to timeout_ms for the echo, resending up to `attempts` times.
// Returns the number of attempts used, or 0 when all were lost.
int request_with_retries(uint16_t port, const std::string& request, int attempts, int timeout_ms);

}  // namespace kvstore
