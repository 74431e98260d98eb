// Fault flags and profiles: what each accepts, what it refuses (exact messages), round trips
// through format_fault_value, and a mutation fuzz of a valid profile.
#include "faults/fault.hpp"

#include <gtest/gtest.h>

#include "core/mutate_for_tests.hpp"

namespace shipshape::faults {
namespace {

struct FlagCase {
    FaultKind kind;
    const char* text;
    const char* error;  // nullptr: accepted
};

TEST(FaultFlag, AcceptsAndRefuses) {
    const FlagCase cases[] = {
        // plain percentage, any protocol
        {FaultKind::loss, "20", nullptr},
        // protocol suffix
        {FaultKind::loss, "20/udp", nullptr},
        // a percent sign is allowed
        {FaultKind::loss, "5%/tcp", nullptr},
        // zero loss is no fault: refused so a typo does not pass silently
        {FaultKind::loss, "0",
         "--loss '0': expected PCT[/tcp|udp] with PCT from 1 to 100, e.g. 20 or 20/udp"},
        // over 100
        {FaultKind::loss, "101",
         "--loss '101': expected PCT[/tcp|udp] with PCT from 1 to 100, e.g. 20 or 20/udp"},
        // unknown protocol
        {FaultKind::loss, "20/icmp",
         "--loss '20/icmp': expected the protocol after '/' to be tcp or udp"},
        // port with protocol and mode
        {FaultKind::block_port, "5432/tcp:drop", nullptr},
        // port 0 is not a port
        {FaultKind::block_port, "0",
         "--block-port '0': expected PORT[/tcp|udp][:reject|drop] with PORT from 1 to 65535"},
        // port out of range
        {FaultKind::block_port, "70000",
         "--block-port '70000': expected PORT[/tcp|udp][:reject|drop] with PORT from 1 to 65535"},
        // unknown mode
        {FaultKind::block_port, "80:bounce",
         "--block-port '80:bounce': expected the mode after ':' to be reject or drop"},
        // latency with jitter, both spellings
        {FaultKind::latency, "50±10", nullptr},
        {FaultKind::latency, "50+-10", nullptr},
        // jitter larger than the latency would need negative holds
        {FaultKind::latency, "10+-20",
         "--latency '10+-20': expected a jitter from 0 up to the latency itself"},
        // rates in bits and bytes
        {FaultKind::bandwidth, "1mbit", nullptr},
        {FaultKind::bandwidth, "100KB/s", nullptr},
        // an unknown rate unit
        {FaultKind::bandwidth, "10 furlongs",
         "--bandwidth '10 furlongs': expected RATE such as 1mbit, 512kbit or 100KB/s (at least "
         "8kbit = 1000 B/s)"},
        // disk full with a fill time
        {FaultKind::disk_full, "/var/lib/app:1M@2s", nullptr},
        // relative paths are refused
        {FaultKind::disk_full, "var/lib:1M",
         "--disk-full 'var/lib:1M': expected an absolute, normalized directory path first (no "
         "'.', '..' or trailing '/'), other than /"},
        // '..' is refused
        {FaultKind::disk_full, "/var/../etc:1M",
         "--disk-full '/var/../etc:1M': expected an absolute, normalized directory path first "
         "(no '.', '..' or trailing '/'), other than /"},
        // a size too small to mount
        {FaultKind::disk_full, "/data:10",
         "--disk-full '/data:10': expected PATH:SIZE with SIZE at least 4K, e.g. /var/lib/app:1M"},
        // I/O errors on chosen operations
        {FaultKind::io_error, "/data:30:write,fsync", nullptr},
        // an unknown operation
        {FaultKind::io_error, "/data:30:open",
         "--io-error '/data:30:open': expected operations after the percentage: read, write or "
         "fsync (comma-separated)"},
        {FaultKind::slow_io, "/data:25", nullptr},
        {FaultKind::lose_unsynced, "/data", nullptr},
        // lose-unsynced holds for the whole run: no window
        {FaultKind::lose_unsynced, "/data@2s",
         "--lose-unsynced holds for the whole run: it takes no @ window"},
        {FaultKind::memory, "64M", nullptr},
        // below 1 MiB a process cannot even start
        {FaultKind::memory, "100K", "--memory '100K': expected SIZE of at least 1M, e.g. 64M"},
        {FaultKind::alloc_limit, "256M", nullptr},
        {FaultKind::clock_skew, "-3600", nullptr},
        {FaultKind::clock_skew, "2h", nullptr},
        // zero skew is no fault
        {FaultKind::clock_skew, "0",
         "--clock-skew '0': expected SECONDS, signed, non-zero, e.g. 3600, -90 or 2h (within "
         "100 years)"},
        {FaultKind::reset_after, "64K:8080", nullptr},
        // the port is required
        {FaultKind::reset_after, "64K",
         "--reset-after needs --port PORT: the port whose connections are cut"},
        {FaultKind::dns_fail, "", nullptr},
        // a window whose end comes first
        {FaultKind::loss, "20@5s-2s",
         "--loss '20@5s-2s': expected a window whose stop comes after its start"},
        // a malformed window
        {FaultKind::loss, "20@soon",
         "--loss '20@soon': the part after '@' must be a time window START or START-STOP, e.g. "
         "@2s or @2s-5s"},
    };
    for (const auto& c : cases) {
        auto f = parse_fault_flag(c.kind, c.text);
        if (c.error) {
            ASSERT_FALSE(f) << c.text;
            EXPECT_EQ(f.error().message(), c.error);
            EXPECT_EQ(f.error().code(), Errc::invalid_argument);
        } else {
            ASSERT_TRUE(f) << c.text << ": " << f.error().message();
            // What format_fault_value writes parses back to the same fault.
            auto again = parse_fault_flag(c.kind, format_fault_value(*f));
            ASSERT_TRUE(again) << format_fault_value(*f) << ": " << again.error().message();
            EXPECT_EQ(*again, *f) << c.text << " -> " << format_fault_value(*f);
        }
    }
}

TEST(FaultFlag, Values) {
    auto loss = parse_fault_flag(FaultKind::loss, "30/udp@2s-5s");
    ASSERT_TRUE(loss);
    EXPECT_EQ(loss->percent, 30u);
    EXPECT_EQ(loss->proto, Proto::udp);
    EXPECT_EQ(loss->start, Millis(2000));
    EXPECT_EQ(loss->stop, Millis(5000));
    auto latency = parse_fault_flag(FaultKind::latency, "50±10");
    ASSERT_TRUE(latency);
    EXPECT_EQ(latency->delay, Millis(50));
    EXPECT_EQ(latency->jitter, Millis(10));
    auto rate = parse_rate("1mbit");
    ASSERT_TRUE(rate);
    EXPECT_EQ(*rate, 125000u);
    auto skew = parse_fault_flag(FaultKind::clock_skew, "-2h");
    ASSERT_TRUE(skew);
    EXPECT_EQ(skew->skew_seconds, -7200);
    auto disk = parse_fault_flag(FaultKind::disk_full, "/var/lib/app:1M@1.5");
    ASSERT_TRUE(disk);
    EXPECT_EQ(disk->bytes, 1048576u);
    EXPECT_EQ(disk->start, Millis(1500));
    EXPECT_EQ(describe_fault(*disk), "/var/lib/app full at 1.0 MiB from 1500ms");
}

TEST(FaultSet, Validation) {
    auto f = [](FaultKind k, const char* v) { return *parse_fault_flag(k, v); };
    // Two memory limits cannot both hold.
    auto two = validate_faults({f(FaultKind::memory, "64M"), f(FaultKind::memory, "32M")});
    ASSERT_FALSE(two);
    EXPECT_EQ(two.error().message(),
              "--memory: only one memory fault per sandbox (another comes from --memory)");
    // The same path twice for one kind.
    auto twice =
        validate_faults({f(FaultKind::io_error, "/d:10"), f(FaultKind::io_error, "/d:20")});
    ASSERT_FALSE(twice);
    EXPECT_EQ(twice.error().message(),
              "--io-error: /d already has a io-error fault (from --io-error)");
    // Nested paths would stack layers invisibly.
    auto nested =
        validate_faults({f(FaultKind::disk_full, "/d:1M"), f(FaultKind::io_error, "/d/sub:10")});
    ASSERT_FALSE(nested);
    EXPECT_EQ(nested.error().message(),
              "--io-error: /d/sub lies inside /d (from --disk-full): fault paths must not nest");
    // Different kinds on one path share it (tmpfs under the FUSE layer).
    EXPECT_TRUE(validate_faults({f(FaultKind::disk_full, "/d:1M"), f(FaultKind::io_error, "/d:10"),
                                 f(FaultKind::lose_unsynced, "/d")}));
}

constexpr const char* k_profile = R"(name = "db-flaky"
description = "the database link drops"

[[fault]]
kind = "loss"
percent = 30

[[fault]]
kind = "block-port"
port = 5432
mode = "drop"
start = "2s"
stop = 5

[[fault]]
kind = "io-error"
path = "/var/lib/db"
percent = 10
ops = ["write", "fsync"]
)";

TEST(Profile, Parses) {
    auto p = parse_profile(k_profile, "faults/db.toml");
    ASSERT_TRUE(p) << p.error().message();
    EXPECT_EQ(p->name, "db-flaky");
    ASSERT_EQ(p->faults.size(), 3u);
    EXPECT_EQ(p->faults[0].percent, 30u);
    EXPECT_EQ(p->faults[1].port, 5432);
    EXPECT_EQ(p->faults[1].mode, BlockMode::drop);
    EXPECT_EQ(p->faults[1].start, Millis(2000));
    EXPECT_EQ(p->faults[1].stop, Millis(5000));
    EXPECT_EQ(p->faults[1].origin, "faults/db.toml:8:1");
    EXPECT_EQ(p->faults[2].ops, k_io_write | k_io_fsync);
}

TEST(Profile, ErrorsWithPositions) {
    struct Case {
        const char* text;
        const char* error;
    };
    const Case cases[] = {
        // a key the kind does not take, with the allowed list
        {"[[fault]]\nkind = \"loss\"\npercent = 5\nport = 3\n",
         "p.toml:4:8: unknown key 'port' in a loss fault: expected kind, start, stop, percent, "
         "proto"},
        // a missing required key
        {"[[fault]]\nkind = \"block-port\"\n", "p.toml:1:1: a block-port fault needs 'port'"},
        // an unknown kind
        {"[[fault]]\nkind = \"meteor\"\n",
         "p.toml:2:8: unknown fault kind 'meteor': expected loss, block-port, latency, bandwidth, "
         "reset-after, dns-fail, disk-full, io-error, slow-io, lose-unsynced, memory, "
         "alloc-limit or clock-skew"},
        // a value the flag parser refuses keeps the table's position
        {"[[fault]]\nkind = \"loss\"\npercent = 150\n",
         "p.toml:1:1: a loss fault: expected PCT[/tcp|udp] with PCT from 1 to 100, e.g. 20 or "
         "20/udp"},
        // the wrong type
        {"[[fault]]\nkind = \"loss\"\npercent = true\n",
         "p.toml:3:11: fault 'percent' must be a string or an integer, found a boolean"},
        // no faults at all
        {"name = \"empty\"\n", "p.toml:1:1: a fault profile needs at least one [[fault]] table"},
        // a syntax error
        {"[[fault]\n", nullptr},
    };
    for (const auto& c : cases) {
        auto p = parse_profile(c.text, "p.toml");
        ASSERT_FALSE(p) << c.text;
        EXPECT_EQ(p.error().code(), Errc::invalid_definition);
        if (c.error) {
            EXPECT_EQ(p.error().message(), c.error) << c.text;
        } else {
            EXPECT_EQ(p.error().message().rfind("p.toml:1:", 0), 0u) << p.error().message();
        }
    }
}

TEST(Profile, MutationFuzzNeverCrashesAndErrorsNamePositions) {
    testing::Mutator m(42);
    int accepted = 0;
    for (int i = 0; i < 3000; ++i) {
        std::string text = m.mutate(k_profile);
        auto p = parse_profile(text, "fuzz.toml");
        if (p) {
            ++accepted;
            EXPECT_TRUE(validate_faults(p->faults)) << "iteration " << i;
            continue;
        }
        EXPECT_EQ(p.error().message().rfind("fuzz.toml", 0), 0u)
            << "iteration " << i << ": " << p.error().message();
    }
    // Some mutations (inside the description) leave a valid profile; most do not.
    EXPECT_GT(accepted, 0);
    EXPECT_LT(accepted, 3000);
}

}  // namespace
}  // namespace shipshape::faults
