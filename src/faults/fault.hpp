// Faults: what `shipshape fault` and the C++ test API can make go wrong, as plain values.
// A Fault is one kind plus the parameters that kind uses and an optional time window
// (start/stop, relative to the moment the first command starts). Faults come from command-line
// flags (parse_fault_flag) or profile files (load_profile, faults/*.toml); both produce the
// same values, and format_fault_flag turns a Fault back into the flag that parses to it, which
// is also how faults travel to a running sandbox. Pure functions; no I/O except load_profile.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"
#include "core/error.hpp"

namespace shipshape::faults {

enum class FaultKind {
    loss,           // --loss PCT[/tcp|udp]: packets dropped on the input path
    block_port,     // --block-port PORT[/proto][:reject|drop]
    latency,        // --latency MS[±JITTER]: every packet held MS (NFQUEUE)
    bandwidth,      // --bandwidth RATE: token bucket on the sandbox loopback
    reset_after,    // --reset-after BYTES --port PORT: connections reset past BYTES
    dns_fail,       // --dns-fail: DNS queries refused
    disk_full,      // --disk-full PATH:SIZE[@SECONDS]: ENOSPC past SIZE
    io_error,       // --io-error PATH:PCT[:read|write|fsync]: EIO
    slow_io,        // --slow-io PATH:MS
    lose_unsynced,  // --lose-unsynced PATH: unsynced data gone when the run ends
    memory,         // --memory SIZE: memory cgroup limit, OOM kill
    alloc_limit,    // --alloc-limit SIZE: RLIMIT_AS, allocations fail
    clock_skew,     // --clock-skew SECONDS: wall clock offset
};

enum class Proto { any, tcp, udp };
enum class BlockMode { reject, drop };

// Bits of IoOp for io_error.
inline constexpr unsigned k_io_read = 1;
inline constexpr unsigned k_io_write = 2;
inline constexpr unsigned k_io_fsync = 4;
inline constexpr unsigned k_io_all = 7;

struct Fault {
    FaultKind kind = FaultKind::loss;
    unsigned percent = 0;      // loss, io_error: 0–100
    Proto proto = Proto::any;  // loss, block_port
    uint16_t port = 0;         // block_port, reset_after
    BlockMode mode = BlockMode::reject;
    Millis delay{0};              // latency (per packet), slow_io (per operation)
    Millis jitter{0};             // latency: uniform in [delay - jitter, delay + jitter]
    uint64_t bytes = 0;           // bandwidth: bytes per second; reset_after, disk_full, memory,
                                  // alloc_limit: a size in bytes
    std::string path;             // disk_full, io_error, slow_io, lose_unsynced: absolute
    unsigned ops = k_io_all;      // io_error
    int64_t skew_seconds = 0;     // clock_skew
    std::optional<Millis> start;  // active from here (default: from the beginning)
    std::optional<Millis> stop;   // healed here (default: at the end)
    std::string origin;  // where it was written: "--loss" or "faults/x.toml:4:1", for messages

    bool operator==(const Fault& other) const;
};

// Stable names: "loss", "block-port", … (the flag names without dashes).
std::string_view fault_kind_name(FaultKind kind);
std::optional<FaultKind> parse_fault_kind(std::string_view name);

// Whether a fault of this kind may have a start/stop window (some hold for the whole run).
bool kind_has_timeline(FaultKind kind);

// Parses the value of one command-line flag (`--loss 20/tcp` → kind loss, text "20/tcp").
// `--dns-fail` and `--lose-unsynced PATH` take "" and a path. `reset_after` takes
// "BYTES:PORT" (the CLI joins --reset-after and --port). The text may end in "@START" or
// "@START-STOP" (durations like 2s, 500ms, or plain seconds) to set a window.
// Returns Errc::invalid_argument naming the flag and what was expected.
[[nodiscard]] Result<Fault> parse_fault_flag(FaultKind kind, std::string_view text);

// The flag value that parse_fault_flag turns back into `fault` (window included).
std::string format_fault_value(const Fault& fault);

// For people: "loss 20% of tcp packets", "block port 5432/tcp (drop)", "disk full at 1.0 MiB
// on /var/lib/app from 2s".
std::string describe_fault(const Fault& fault);

// Parses a rate: a number and bit/kbit/mbit/gbit (bits per second), or B/s, KB/s, MB/s, KiB/s,
// MiB/s (bytes per second). Returns bytes per second.
[[nodiscard]] Result<uint64_t> parse_rate(std::string_view text);

// Checks a whole set: windows inside each fault are ordered, at most one fault of the kinds
// that are process-wide (memory, alloc_limit, clock_skew, latency, bandwidth, dns_fail), one
// file-system fault layer per path (disk_full may share its path with io/slow/lose faults).
// Returns Errc::invalid_argument naming the faults' origins.
[[nodiscard]] Status validate_faults(const std::vector<Fault>& faults);

struct Profile {
    std::string name;
    std::string description;
    std::vector<Fault> faults;
};

// Parses a fault profile (faults/*.toml, format in docs/specs/fault-profile.md). Every problem
// is reported at once as "file:line:col: message" (Errc::invalid_definition).
[[nodiscard]] Result<Profile> parse_profile(std::string_view text, const std::string& path);
[[nodiscard]] Result<Profile> load_profile(const std::string& path);

}  // namespace shipshape::faults
