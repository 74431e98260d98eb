// FaultService without a sandbox: where profiles are found (a path, a name in the ops repo
// found from -C or the working directory, nothing outside one) and how flags and profiles
// become one validated set. The sandbox itself is covered by src/faults/sandbox_test.cpp and
// tests/e2e/test_fault.py.
#include "app/fault_service.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "os/file_system.hpp"

namespace shipshape::app {
namespace {

class FaultServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char dir[] = "/tmp/shipshape-fault-service-XXXXXX";
        ASSERT_NE(::mkdtemp(dir), nullptr);
        m_dir = dir;
    }
    void TearDown() override { (void)std::system(("rm -rf " + m_dir).c_str()); }

    void write(const std::string& rel, const std::string& text) {
        ASSERT_TRUE(os::write_whole_file_atomic(m_dir + "/" + rel, text));
    }

    std::string m_dir;
    FaultService m_service;
};

constexpr const char* k_profile = "[[fault]]\nkind = \"loss\"\npercent = 20\n";

TEST_F(FaultServiceTest, AProfileByPathNeedsNoOpsRepo) {
    write("elsewhere/p.toml", k_profile);
    FaultRequest request;
    request.cwd = m_dir;
    request.profiles = {m_dir + "/elsewhere/p.toml"};
    request.flags = {{faults::FaultKind::block_port, "5432"}};
    auto faults = m_service.collect(request);
    ASSERT_TRUE(faults) << faults.error().message();
    ASSERT_EQ(faults->size(), 2u);  // profile first, then flags
    EXPECT_EQ((*faults)[0].kind, faults::FaultKind::loss);
    EXPECT_EQ((*faults)[1].kind, faults::FaultKind::block_port);
}

TEST_F(FaultServiceTest, AProfileNameIsLookedUpInTheOpsRepo) {
    write("ops/shipshape.toml", "");
    write("ops/faults/flaky.toml", k_profile);
    write("ops/sub/dir/.keep", "");
    FaultRequest request;
    request.cwd = m_dir + "/ops/sub/dir";  // found by walking up, without loading the project
    auto path = m_service.profile_path(request, "flaky");
    ASSERT_TRUE(path) << path.error().message();
    EXPECT_EQ(*path, m_dir + "/ops/faults/flaky.toml");
    request.cwd = m_dir;
    request.directory = "ops";  // -C, relative to the working directory
    path = m_service.profile_path(request, "flaky");
    ASSERT_TRUE(path) << path.error().message();
    EXPECT_EQ(*path, m_dir + "/ops/faults/flaky.toml");
}

TEST_F(FaultServiceTest, AProfileNameOutsideAnOpsRepoSaysWhy) {
    FaultRequest request;
    request.cwd = m_dir;
    request.profiles = {"flaky"};
    auto faults = m_service.collect(request);
    ASSERT_FALSE(faults);
    EXPECT_EQ(faults.error().code(), Errc::not_found);
    EXPECT_EQ(faults.error().message().rfind(
                  "fault profile 'flaky': no such file, and no ops repo to look in (", 0),
              0u)
        << faults.error().message();
}

TEST_F(FaultServiceTest, FlagsAloneAndTheirChecks) {
    FaultRequest request;
    request.cwd = m_dir;
    request.reset_after = "64K";  // without --port
    auto faults = m_service.collect(request);
    ASSERT_FALSE(faults);
    EXPECT_EQ(faults.error().message(),
              "--reset-after BYTES and --port PORT go together: connections to or from PORT are "
              "reset after BYTES");
    request.port = "7000";
    request.flags = {{faults::FaultKind::memory, "64M"}, {faults::FaultKind::memory, "32M"}};
    faults = m_service.collect(request);
    ASSERT_FALSE(faults);  // the set is validated as a whole
    EXPECT_EQ(faults.error().code(), Errc::invalid_argument);
    request.flags.pop_back();
    faults = m_service.collect(request);
    ASSERT_TRUE(faults) << faults.error().message();
    ASSERT_EQ(faults->size(), 2u);
    EXPECT_EQ(faults->back().kind, faults::FaultKind::reset_after);
    EXPECT_EQ(faults->back().port, 7000);
}

}  // namespace
}  // namespace shipshape::app
