// The example's tests: the store's promise ("a put that returned true is never lost") proven
// under a full disk and a power loss, and the client's retries proven through 30% packet loss,
// all with faults made by the kernel through shipshape's sandbox. Copy this file's pattern:
// start a sandbox with the faults, run the code under test in it (a body or a command), and
// assert on both what the code saw and what the report says fired.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <map>

#include "faults/sandbox.hpp"
#include "faults/testing.hpp"
#include "kvstore.hpp"

namespace {

using shipshape::faults::Control;
using shipshape::faults::FaultKind;
using shipshape::faults::Report;
using shipshape::faults::Sandbox;
using shipshape::faults::SandboxOptions;
namespace ft = shipshape::faults::testing;

// FUSE and cgroups need root; network and tmpfs faults do not.
bool have_root() {
    return ::geteuid() == 0;
}

std::string temp_dir() {
    char dir[] = "/tmp/kvstore-example-XXXXXX";
    return ::mkdtemp(dir) ? dir : "";
}

std::vector<shipshape::faults::Fault> faults(
    std::initializer_list<std::pair<FaultKind, std::string>> list) {
    std::vector<shipshape::faults::Fault> out;
    for (const auto& [kind, value] : list) {
        out.push_back(*shipshape::faults::parse_fault_flag(kind, value));
    }
    return out;
}

// Runs `body` in the sandbox; returns its exit status and the final report.
std::pair<int, Report> in_sandbox(const std::vector<shipshape::faults::Fault>& set,
                                  std::function<int(Control&)> body) {
    SandboxOptions options;
    options.body = std::move(body);
    auto sandbox = Sandbox::start(set, options);
    if (!sandbox) {
        ADD_FAILURE() << sandbox.error().message();
        return {-1, {}};
    }
    auto id = (*sandbox)->call_body();
    auto outcome = (*sandbox)->wait(*id);
    auto report = (*sandbox)->finish();
    return {outcome ? outcome->shell_status() : -1, report ? *report : Report{}};
}

TEST(KvStore, FullDiskNeverLosesAcknowledgedData) {
    std::string dir = temp_dir();
    auto [status, report] =
        in_sandbox(faults({{FaultKind::disk_full, dir + ":128K"}}), [dir](Control&) {
            kvstore::Store store(dir);
            std::map<std::string, std::string> acknowledged;
            int refused = 0;
            for (int i = 0; i < 200; ++i) {
                std::string key = "k" + std::to_string(i % 20);
                std::string value(4000 + i, static_cast<char>('a' + i % 26));
                if (store.put(key, value)) {
                    acknowledged[key] = value;
                } else {
                    ++refused;
                }
            }
            for (const auto& [key, value] : acknowledged) {
                if (store.get(key) != value) {
                    std::printf("lost %s\n", key.c_str());
                    return 1;
                }
            }
            return refused > 0 ? 0 : 2;  // 2: the disk never filled, the test proved nothing
        });
    EXPECT_EQ(status, 0);
    EXPECT_TRUE(ft::outcome(report, FaultKind::disk_full)->fired);
    std::system(("rm -rf " + dir).c_str());
}

TEST(KvStore, PowerLossKeepsEveryAcknowledgedPut) {
    if (!have_root()) {
        const char* all = std::getenv("SHIPSHAPE_REQUIRE_ALL");
        if (all && std::string(all) == "1") {
            FAIL() << "--lose-unsynced needs FUSE, which needs root here";
        }
        GTEST_SKIP() << "--lose-unsynced needs FUSE, which needs root here";
    }
    std::string dir = temp_dir();
    auto [status, report] = in_sandbox(faults({{FaultKind::lose_unsynced, dir}}), [dir](Control&) {
        kvstore::Store store(dir);
        for (int i = 0; i < 50; ++i) {
            if (!store.put("k" + std::to_string(i), "value " + std::to_string(i))) {
                return 1;
            }
        }
        // The naive way, for contrast: these are the writes a power loss takes.
        for (int i = 0; i < 10; ++i) {
            kvstore::put_without_sync(dir, "naive" + std::to_string(i), "gone");
        }
        return 0;
    });
    EXPECT_EQ(status, 0);
    kvstore::Store after(dir);
    for (int i = 0; i < 50; ++i) {
        EXPECT_EQ(after.get("k" + std::to_string(i)), "value " + std::to_string(i));
    }
    EXPECT_EQ(after.get("naive0"), std::nullopt);
    EXPECT_EQ(ft::count(*ft::outcome(report, FaultKind::lose_unsynced), "files_lost"), 10u);
    std::system(("rm -rf " + dir).c_str());
}

TEST(KvStore, ClientRetriesThroughThirtyPercentLoss) {
    auto [status, report] = in_sandbox(faults({{FaultKind::loss, "30/udp"}}), [](Control&) {
        kvstore::start_echo_server(47000);
        int retried = 0;
        for (int i = 0; i < 200; ++i) {
            // An exchange survives 30% loss each way with p = 0.49; 30 attempts all fail with
            // p ≈ 2e-9, so a lost request means the client is broken, not unlucky.
            int used = kvstore::request_with_retries(47000, "req" + std::to_string(i), 30, 20);
            if (used == 0) {
                std::printf("request %d lost 30 times\n", i);
                return 1;
            }
            retried += used > 1;
        }
        std::printf("%d of 200 requests needed a retry\n", retried);
        return retried > 0 ? 0 : 2;
    });
    EXPECT_EQ(status, 0);
    const auto* loss = ft::outcome(report, FaultKind::loss);
    ASSERT_NE(loss, nullptr);
    EXPECT_GT(ft::count(*loss, "packets_dropped"), 50u);
}

}  // namespace
