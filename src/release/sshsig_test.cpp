// SSHSIG verification against the oracle: keys and signatures made by ssh-keygen itself in the
// test, every verdict compared with `ssh-keygen -Y verify` on the same inputs.
#include "release/sshsig.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "core/testing/skip.hpp"
#include "os/file_system.hpp"

namespace shipshape::release {
namespace {

std::string read(const std::string& path) {
    return shipshape::os::read_whole_file(path).value_or("");
}

void write(const std::string& path, const std::string& text) {
    std::ofstream(path, std::ios::binary) << text;
}

class SshsigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (std::system("command -v ssh-keygen >/dev/null 2>&1") != 0) {
            SHIPSHAPE_SKIP_OR_FAIL("ssh-keygen (openssh-client) is not installed");
        }
        char tmpl[] = "/tmp/shipshape-sshsig-XXXXXX";
        m_dir = ::mkdtemp(tmpl);
    }
    void TearDown() override {
        if (!m_dir.empty()) {
            std::filesystem::remove_all(m_dir);
        }
    }

    // A new key of `type` ("ed25519", "ecdsa -b 384", "rsa -b 2048"); its path.
    std::string key(const std::string& name, const std::string& type) {
        std::string path = m_dir + "/" + name;
        std::string cmd = "ssh-keygen -q -N '' -C " + name + "@example.org -t " + type + " -f " +
                          path + " >/dev/null 2>&1";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
        return path;
    }

    // ssh-keygen's signature of `message` with `key` for `name_space`.
    std::string sign(const std::string& key, const std::string& message,
                     const std::string& name_space) {
        std::string file = m_dir + "/message";
        write(file, message);
        std::filesystem::remove(file + ".sig");
        std::string cmd = "ssh-keygen -q -Y sign -f " + key + " -n " + name_space + " " + file +
                          " >/dev/null 2>&1";
        EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
        return read(file + ".sig");
    }

    // ssh-keygen's own verdict on `armored` over `message` by `key` for `name_space`.
    bool oracle(const std::string& key, const std::string& armored, const std::string& message,
                const std::string& name_space) {
        write(m_dir + "/allowed", "signer@example.org " + read(key + ".pub"));
        write(m_dir + "/check.sig", armored);
        write(m_dir + "/check", message);
        std::string cmd = "ssh-keygen -Y verify -f " + m_dir +
                          "/allowed -I signer@example.org -n " + name_space + " -s " + m_dir +
                          "/check.sig < " + m_dir + "/check >/dev/null 2>&1";
        return std::system(cmd.c_str()) == 0;
    }

    // Ours: the signature parses, verifies, and is by `key`.
    Status ours(const std::string& key, const std::string& armored, const std::string& message,
                const std::string& name_space) {
        auto sig = parse_sshsig(armored);
        if (!sig) {
            return fail(sig.error());
        }
        auto pub = parse_public_key(read(key + ".pub"));
        if (!pub) {
            return fail(pub.error());
        }
        if (sig->public_key != *pub) {
            return fail(Errc::invalid_argument, "signed by another key");
        }
        return verify_sshsig(*sig, message, name_space);
    }

    std::string m_dir;
};

TEST_F(SshsigTest, AgreesWithSshKeygenOnEveryKeyTypeAndEveryRejection) {
    const std::string ns = "shipshape-signoff";
    const std::string msg = "release 3f2a… stage prod role qa\n";
    for (const char* type :
         {"ed25519", "ecdsa -b 256", "ecdsa -b 384", "ecdsa -b 521", "rsa -b 2048"}) {
        SCOPED_TRACE(type);
        std::string k =
            key(std::string("k") + std::to_string(std::hash<std::string>{}(type)), type);
        std::string other =
            key(std::string("o") + std::to_string(std::hash<std::string>{}(type)), type);
        std::string sig = sign(k, msg, ns);
        ASSERT_FALSE(sig.empty());

        struct Case {
            std::string what;
            std::string armored;
            std::string message;
            std::string name_space;
            std::string key;
            bool valid;
            std::string reason;  // part of our message when invalid
        };
        std::string garbled = sig;
        garbled[garbled.size() / 2] = garbled[garbled.size() / 2] == 'A' ? 'B' : 'A';
        std::string truncated = sig.substr(0, sig.size() / 2) + "\n-----END SSH SIGNATURE-----\n";
        std::vector<Case> cases = {
            {"valid", sig, msg, ns, k, true, ""},
            {"wrong namespace", sign(k, msg, "file"), msg, ns, k, false, "namespace is 'file'"},
            {"another message (replay)", sig, msg + "x", ns, k, false, "does not match"},
            {"another signer", sig, msg, ns, other, false, "another key"},
            {"garbled", garbled, msg, ns, k, false, ""},
            {"truncated", truncated, msg, ns, k, false, ""},
        };
        for (const auto& c : cases) {
            SCOPED_TRACE(c.what);
            bool theirs = oracle(c.key, c.armored, c.message, c.name_space);
            auto mine = ours(c.key, c.armored, c.message, c.name_space);
            EXPECT_EQ(theirs, c.valid);
            EXPECT_EQ(mine.has_value(), theirs) << (mine ? "" : mine.error().message());
            if (!mine && !c.reason.empty()) {
                EXPECT_NE(mine.error().message().find(c.reason), std::string::npos)
                    << mine.error().message();
            }
        }
    }
}

// The batch's verdicts are verify_sshsig's, code and message, in input order, whatever the
// number of threads: every key type in one batch (so the key cache holds several), each with a
// valid signature, and rejections from every stage of a check.
TEST_F(SshsigTest, BatchGivesExactlyTheVerdictsOfVerifySshsig) {
    const std::string ns = "shipshape-signoff";
    const std::string msg = "release 3f2a… stage prod role qa\n";
    const std::string other_msg = msg + "x";
    std::vector<SshSignature> sigs;
    struct Row {
        size_t sig;
        const std::string* message;
        std::string name_space;
        bool valid;
    };
    std::vector<Row> rows;
    for (const char* type :
         {"ed25519", "ecdsa -b 256", "ecdsa -b 384", "ecdsa -b 521", "rsa -b 2048"}) {
        SCOPED_TRACE(type);
        std::string id = std::to_string(std::hash<std::string>{}(type));
        std::string k = key("k" + id, type);
        std::string other = key("o" + id, type);
        auto add = [&](const std::string& armored) {
            auto sig = parse_sshsig(armored);
            EXPECT_TRUE(sig) << (sig ? "" : sig.error().message());
            sigs.push_back(sig.value_or(SshSignature{}));
            return sigs.size() - 1;
        };
        size_t good = add(sign(k, msg, ns));
        size_t by_other = add(sign(other, msg, ns));
        size_t file_ns = add(sign(k, msg, "file"));
        SshSignature flipped = sigs[good];  // garbled: one bit of the signature
        flipped.signature[flipped.signature.size() / 2] ^= 0x01;
        sigs.push_back(flipped);
        size_t garbled_sig = sigs.size() - 1;
        SshSignature claims_other = sigs[good];  // signed by k, names the other key
        claims_other.public_key = sigs[by_other].public_key;
        sigs.push_back(claims_other);
        size_t wrong_key = sigs.size() - 1;
        SshSignature cut_key = sigs[good];  // garbled key blob
        cut_key.public_key.resize(cut_key.public_key.size() - 1);
        sigs.push_back(cut_key);
        size_t garbled_key = sigs.size() - 1;
        SshSignature bad_type = sigs[good];  // a signature type that fits no key
        bad_type.signature_type = "ssh-dss";
        sigs.push_back(bad_type);
        size_t wrong_type = sigs.size() - 1;
        SshSignature md5 = sigs[good];
        md5.hash_algorithm = "md5";
        sigs.push_back(md5);
        size_t bad_hash = sigs.size() - 1;
        rows.push_back({good, &msg, ns, true});
        rows.push_back({by_other, &msg, ns, true});  // another signer: valid, by its own key
        rows.push_back({file_ns, &msg, ns, false});
        rows.push_back({good, &other_msg, ns, false});
        rows.push_back({garbled_sig, &msg, ns, false});
        rows.push_back({wrong_key, &msg, ns, false});
        rows.push_back({garbled_key, &msg, ns, false});
        rows.push_back({wrong_type, &msg, ns, false});
        rows.push_back({bad_hash, &msg, ns, false});
        rows.push_back({good, &msg, "file", false});
    }
    std::vector<SshsigCheck> checks;
    checks.reserve(rows.size());
    for (const auto& r : rows) {
        checks.push_back({&sigs[r.sig], *r.message, r.name_space});
    }
    for (unsigned threads : {1U, 4U}) {
        SCOPED_TRACE(threads);
        auto batch = verify_sshsig_batch(checks, threads);
        ASSERT_EQ(batch.size(), checks.size());
        for (size_t i = 0; i < checks.size(); ++i) {
            SCOPED_TRACE(i);
            auto single = verify_sshsig(*checks[i].sig, checks[i].message, checks[i].name_space);
            EXPECT_EQ(single.has_value(), rows[i].valid)
                << (single ? "" : single.error().message());
            ASSERT_EQ(batch[i].has_value(), single.has_value())
                << (batch[i] ? "" : batch[i].error().message());
            if (!single) {
                EXPECT_EQ(batch[i].error().code(), single.error().code());
                EXPECT_EQ(batch[i].error().message(), single.error().message());
            }
        }
    }
    EXPECT_TRUE(verify_sshsig_batch({}, 4).empty());
}

// The key cache tells keys apart by their whole blob: the same message signed by two keys of one
// type verifies under each key, and fails with the keys swapped, in any order in one batch.
TEST_F(SshsigTest, BatchKeyCacheNeverConfusesTwoKeys) {
    const std::string ns = "shipshape-signoff";
    const std::string msg = "release 3f2a… stage prod role qa\n";
    for (const char* type : {"ed25519", "ecdsa -b 256"}) {
        SCOPED_TRACE(type);
        std::string id = std::to_string(std::hash<std::string>{}(type));
        auto a = parse_sshsig(sign(key("a" + id, type), msg, ns));
        auto b = parse_sshsig(sign(key("b" + id, type), msg, ns));
        ASSERT_TRUE(a && b);
        ASSERT_NE(a->public_key, b->public_key);
        SshSignature a_as_b = *a;
        a_as_b.public_key = b->public_key;
        SshSignature b_as_a = *b;
        b_as_a.public_key = a->public_key;
        std::vector<SshsigCheck> checks = {{&*a, msg, ns},     {&*b, msg, ns}, {&a_as_b, msg, ns},
                                           {&b_as_a, msg, ns}, {&*b, msg, ns}, {&*a, msg, ns}};
        for (unsigned threads : {1U, 4U}) {
            auto r = verify_sshsig_batch(checks, threads);
            ASSERT_EQ(r.size(), 6U);
            EXPECT_TRUE(r[0]) << r[0].error().message();
            EXPECT_TRUE(r[1]) << r[1].error().message();
            EXPECT_FALSE(r[2]);
            EXPECT_FALSE(r[3]);
            EXPECT_TRUE(r[4]) << r[4].error().message();
            EXPECT_TRUE(r[5]) << r[5].error().message();
        }
    }
}

TEST_F(SshsigTest, FingerprintIsSshKeygens) {
    std::string k = key("fp", "ed25519");
    FILE* p = ::popen(("ssh-keygen -l -f " + k + ".pub").c_str(), "r");
    ASSERT_NE(p, nullptr);
    char line[512] = {};
    ASSERT_NE(std::fgets(line, sizeof line, p), nullptr);
    ::pclose(p);
    auto pub = parse_public_key(read(k + ".pub"));
    ASSERT_TRUE(pub) << pub.error().message();
    std::string listed(line);
    EXPECT_NE(listed.find(" " + key_fingerprint(*pub) + " "), std::string::npos) << listed;
}

TEST(Sshsig, MalformedInputIsNamedNeverCrashes) {
    EXPECT_NE(parse_sshsig("hello").error().message().find("no '-----BEGIN SSH SIGNATURE-----'"),
              std::string::npos);
    EXPECT_NE(parse_sshsig("-----BEGIN SSH SIGNATURE-----\n!!!!\n-----END SSH SIGNATURE-----")
                  .error()
                  .message()
                  .find("not valid base64"),
              std::string::npos);
    // "SSHSIG" + version 2.
    EXPECT_NE(parse_sshsig("-----BEGIN SSH SIGNATURE-----\nU1NIU0lHAAAAAg==\n"
                           "-----END SSH SIGNATURE-----")
                  .error()
                  .message()
                  .find("version 2"),
              std::string::npos);
    // Every prefix of a real blob's base64 (cut at a 4-character boundary): an error, no crash.
    const std::string blob =
        "U1NIU0lHAAAAAQAAADMAAAALc3NoLWVkMjU1MTkAAAAgvP1hZ0kzY1bQFqKsZ4lQwnJz6u9vV0xYc9oT5yKdMmUA"
        "AAARc2hpcHNoYXBlLXNpZ25vZmYAAAAAAAAABnNoYTUxMgAAAFMAAAALc3NoLWVkMjU1MTkAAABA";
    for (size_t n = 0; n <= blob.size(); n += 4) {
        auto r = parse_sshsig("-----BEGIN SSH SIGNATURE-----\n" + blob.substr(0, n) +
                              "\n-----END SSH SIGNATURE-----");
        EXPECT_FALSE(r.has_value()) << n;
    }
    EXPECT_FALSE(parse_public_key("ssh-ed25519").has_value());
    EXPECT_NE(parse_public_key("ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIA== x")
                  .error()
                  .message()
                  .find("the key says it is 'ssh-ed25519'"),
              std::string::npos);
}

}  // namespace
}  // namespace shipshape::release
