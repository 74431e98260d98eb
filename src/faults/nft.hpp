// Nft: nftables rules for the network faults, through libnftables in this process. It must be
// used from inside the sandbox's network namespace: it only ever creates and changes the table
// "inet shipshape" there, which disappears with the namespace.
//
// Each fault gets a regular chain and a named counter of its own, jumped to from the base
// chains; enabling a fault fills its chain, disabling flushes it, and the counter survives
// both, so a fault switched on and off by a timeline still reports every packet it touched.
// Not thread-safe: the supervisor's event loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace shipshape::faults {

struct NftCounter {
    uint64_t packets = 0;
    uint64_t bytes = 0;
};

class Nft {
  public:
    // Creates the table and its base chains (input and output hooks). Errc::unsupported when
    // nftables is unusable here (the message carries libnftables' own text).
    [[nodiscard]] static Result<std::unique_ptr<Nft>> create();
    ~Nft();
    Nft(const Nft&) = delete;
    Nft& operator=(const Nft&) = delete;

    // Declares fault `id`'s chain and counter; `rules` are nft rule bodies placed in the chain
    // on enable, each of which should contain "counter name f<ID>" (see counter_name()).
    [[nodiscard]] Status declare(int id, std::string hook, std::vector<std::string> rules);
    [[nodiscard]] Status enable(int id);
    [[nodiscard]] Status disable(int id);
    // Every fault's counter, by id.
    [[nodiscard]] Result<std::map<int, NftCounter>> counters();

    // Between these, declare() and enable() only collect; commit_batch() applies them in one
    // transaction and checks the rules of faults still off with a dry run.
    void begin_batch();
    [[nodiscard]] Status commit_batch();

    static std::string counter_name(int id) { return "f" + std::to_string(id); }

    // Runs an nft script; Errc::io with nft's error text on failure.
    [[nodiscard]] Status run(const std::string& script);

  private:
    struct Impl;
    explicit Nft(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace shipshape::faults
