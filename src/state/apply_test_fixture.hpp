// Test-only: the scratch-root fixture of the apply tests (apply_test.cpp, apply_sync_test.cpp).
// Every path lives under a fresh directory per test; the root has an /etc/passwd and
// /etc/group with root only. Include only from *_test.cpp files.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "state/apply.hpp"
#include "state/load.hpp"
#include "state/plan.hpp"

namespace shipshape::state::apply_testing {

namespace fs = std::filesystem;

// Public helpers: the table rows of apply_test.cpp reach them through an ApplyTest&.
class ApplyTest : public ::testing::Test {
  public:
    void SetUp() override {
        m_base = fs::temp_directory_path() /
                 ("shipshape-apply-" + std::to_string(::getpid()) + "-" +
                  ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(m_base);
        fs::create_directories(m_base / "repo/states");
        m_root = (m_base / "root").string();
        write("root/etc/passwd", "root:x:0:0:root:/root:/bin/bash\n");
        write("root/etc/group", "root:x:0:\n");
        write("root/etc/shadow", "");
        write("root/etc/gshadow", "");
        m_runner = os::make_process_runner();
    }
    void TearDown() override { fs::remove_all(m_base); }

    void write(const std::string& rel, const std::string& text) {
        fs::create_directories((m_base / rel).parent_path());
        std::ofstream(m_base / rel, std::ios::binary | std::ios::trunc) << text;
    }
    std::string read(const std::string& rel) const {
        std::ifstream in(m_base / rel, std::ios::binary);
        std::ostringstream ss;
        ss << in.rdbuf();
        return ss.str();
    }
    std::string real(const std::string& host_path) const { return m_root + host_path; }

    DesiredState load(const std::string& state_text) {
        write("repo/states/s.toml", state_text);
        LoadOptions o;
        o.repo_root = (m_base / "repo").string();
        o.accounts = read_accounts(m_root + "/etc/passwd", m_root + "/etc/group");
        auto s = load_state({"states/s.toml"}, o);
        EXPECT_TRUE(s) << s.error().message();
        return s ? std::move(*s) : DesiredState{};
    }
    Plan plan(const DesiredState& s) {
        PlanOptions o;
        o.root = m_root;
        o.source_root = (m_base / "repo").string();
        o.runner = m_runner.get();
        o.diffs = true;
        auto p = make_plan(s.resources, o);
        EXPECT_TRUE(p) << p.error().message();
        return p ? std::move(*p) : Plan{};
    }
    ApplyOptions options() {
        ApplyOptions o;
        o.root = m_root;
        o.repo_root = (m_base / "repo").string();
        o.runner = m_runner.get();
        return o;
    }
    ApplyReport apply(const DesiredState& s, const Plan& p) {
        return apply_plan(p, s.resources, options());
    }

    // Everything observable about the root: per entry its type, mode, owner, inode, times, and
    // content or link target. Equal snapshots mean nothing under the root was written.
    std::map<std::string, std::string> snapshot() const {
        std::map<std::string, std::string> out;
        for (const auto& e : fs::recursive_directory_iterator(m_root)) {
            struct stat st {};
            ::lstat(e.path().c_str(), &st);
            std::ostringstream row;
            row << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid
                << " ino " << st.st_ino << " m " << st.st_mtim.tv_sec << "." << st.st_mtim.tv_nsec
                << " c " << st.st_ctim.tv_sec << "." << st.st_ctim.tv_nsec;
            if (S_ISREG(st.st_mode)) {
                std::ifstream in(e.path(), std::ios::binary);
                row << " " << in.rdbuf();
            } else if (S_ISLNK(st.st_mode)) {
                row << " -> " << fs::read_symlink(e.path()).string();
            }
            out[e.path().string().substr(m_root.size())] = row.str();
        }
        return out;
    }

    fs::path m_base;
    std::string m_root;
    std::unique_ptr<os::ProcessRunner> m_runner;
};

}  // namespace shipshape::state::apply_testing
