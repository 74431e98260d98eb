#include "app/project.hpp"

#include <gtest/gtest.h>

namespace shipshape::app {
namespace {

TEST(ParseProjectConfig, ReadsKeysAndDefaults) {
    auto c = parse_project_config("name = \"booking\"\nsecrets = [\"DB_PASSWORD\"]\n", "s.toml");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->name, "booking");
    EXPECT_EQ(c->store, ".shipshape/state.db");
    EXPECT_EQ(c->default_env, "local");
    EXPECT_EQ(c->secrets, std::vector<std::string>{"DB_PASSWORD"});
    EXPECT_EQ(c->package, "");
    c = parse_project_config("name = \"booking\"\npackage = \"booking-api\"\n", "s.toml");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->package, "booking-api");
    EXPECT_EQ(c->lab_subnet, "");
    c = parse_project_config("name = \"b\"\n[lab]\nsubnet = \"10.1.2.0/24\"\n", "s.toml");
    ASSERT_TRUE(c) << c.error().message();
    EXPECT_EQ(c->lab_subnet, "10.1.2.0/24");
}

TEST(ParseProjectConfig, RejectsBadInput) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // Unknown key, with the accepted ones.
        {"name = \"x\"\nstroe = \"y\"\n",
         "s.toml:2:1: unknown key 'stroe' in shipshape.toml (did you mean 'store'?)"},
        // Unknown key with no near miss: every accepted one.
        {"name = \"x\"\nbogus = \"y\"\n",
         "s.toml:2:1: unknown key 'bogus' in shipshape.toml (expected one of: name, description, "
         "store, default_env, secrets, roles, package, stage, image, lab)"},
        // [lab] takes only a subnet.
        {"name = \"x\"\n[lab]\nsubnet = \"10.1.2.0/24\"\nbridge = \"b\"\n",
         "s.toml:4:1: unknown key 'bridge' in [lab] (expected one of: subnet)"},
        // [image] (image check's thresholds) is checked with the rest of the file.
        {"name = \"x\"\n[image]\npatch_max = \"many\"\n",
         "s.toml:3:13: [image] patch_max must be an integer, found a string"},
        // Stages: an unknown earlier stage, a cycle, a bad count, an unknown key.
        {"name = \"x\"\n[stage.prod]\nafter = \"stagin\"\n[stage.staging]\n",
         "s.toml:3:9: stage 'prod' comes after 'stagin', which is not a stage (stages: prod, "
         "staging)"},
        {"name = \"x\"\n[stage.a]\nafter = \"b\"\n[stage.b]\nafter = \"a\"\n",
         "s.toml:3:9: stage 'a': its 'after' chain is a cycle\n"
         "s.toml:5:9: stage 'b': its 'after' chain is a cycle"},
        {"name = \"x\"\n[stage.prod]\nsign_offs = { qa = 0 }\n",
         "s.toml:3:20: stage 'prod' sign_offs.qa must be a number of people from 1 to 100"},
        {"name = \"x\"\n[stage.prod]\nsignoffs = { qa = 1 }\n",
         "s.toml:3:1: unknown key 'signoffs' in stage 'prod' (did you mean 'sign_offs'?)"},
        // Name is required.
        {"store = \"x.db\"\n", "s.toml:1:1: shipshape.toml needs a 'name'"},
        // Wrong type.
        {"name = 3\n", "s.toml:1:8: shipshape.toml 'name' must be a string"},
        // Secrets name variables, not values.
        {"name = \"x\"\nsecrets = [\"A=b\"]\n",
         "s.toml:2:11: secrets must name environment variables, found 'A=b'"},
    };
    for (const auto& row : rows) {
        auto c = parse_project_config(row.text, "s.toml");
        ASSERT_FALSE(c) << row.text;
        EXPECT_EQ(c.error().message(), row.message);
    }
}

TEST(ParseProjectConfig, ReadsStagesEarliestFirst) {
    auto c = parse_project_config(R"(name = "x"
[stage.prod]
after = "staging"
sign_offs = { qa = 2, ops = 1, dev = 1 }
[stage.qa]
[stage.staging]
after = "qa"
env = "stage"
)",
                                  "s.toml");
    ASSERT_TRUE(c) << c.error().message();
    ASSERT_EQ(c->stages.size(), 3U);
    EXPECT_EQ(c->stages[0].name, "qa");
    EXPECT_EQ(c->stages[1].name, "staging");
    EXPECT_EQ(c->stages[2].name, "prod");
    EXPECT_EQ(c->stages[0].env, "qa");
    EXPECT_EQ(c->stages[1].env, "stage");
    EXPECT_EQ(c->stage_for_env("stage"), &c->stages[1]);
    using Offs = std::vector<std::pair<std::string, int>>;
    EXPECT_EQ(c->stages[2].sign_offs, (Offs{{"dev", 1}, {"ops", 1}, {"qa", 2}}));
}

TEST(ParseInventory, ReadsEnvironmentsGroupsAndHosts) {
    auto inv = parse_inventory(R"(
[env.prod]
hosts = ["web1", "db1"]
[env.local]
hosts = ["localhost"]
[group.web]
hosts = ["web1"]
[host.web1]
address = "10.0.0.5"
user = "deploy"
port = 2222
tags = { rack = "a3" }
[ssh]
config = "ssh/config"
options = ["ProxyJump=bastion"]
known_hosts = "accept-new"
connect_timeout = "3s"
forks = 20
)",
                               "i.toml");
    ASSERT_TRUE(inv) << inv.error().message();
    EXPECT_EQ(inv->ssh.config, "ssh/config");
    EXPECT_EQ(inv->ssh.options, std::vector<std::string>{"ProxyJump=bastion"});
    EXPECT_EQ(inv->ssh.known_hosts, "accept-new");
    EXPECT_EQ(inv->ssh.connect_timeout, "3s");
    EXPECT_EQ(inv->ssh.persist, "60s");
    EXPECT_EQ(inv->ssh.forks, 20);
    ASSERT_NE(inv->find_env("prod"), nullptr);
    EXPECT_EQ(inv->find_env("prod")->hosts, (std::vector<std::string>{"web1", "db1"}));
    ASSERT_EQ(inv->hosts.size(), 1u);
    EXPECT_EQ(inv->hosts[0].port, 2222);
    EXPECT_EQ(inv->hosts[0].tags.at("rack"), "a3");
}

TEST(ParseInventory, RejectsBadInput) {
    struct Row {
        const char* text;
        const char* message;
    };
    const Row rows[] = {
        // A host in two environments.
        {"[env.a]\nhosts = [\"h\"]\n[env.b]\nhosts = [\"h\"]\n",
         "i.toml:4:9: host 'h' is in environments 'a' and 'b': a host belongs to one environment"},
        // The same host twice in an environment, and in a group: each repeat where it is.
        {"[env.a]\nhosts = [\"h\", \"g\", \"h\"]\n",
         "i.toml:2:20: env 'a' lists host 'h' more than once"},
        {"[env.a]\nhosts = [\"h\"]\n[group.web]\nhosts = [\"h\",\n  \"h\"]\n",
         "i.toml:5:3: group 'web' lists host 'h' more than once"},
        // A group naming an unknown host.
        {"[env.a]\nhosts = [\"h\"]\n[group.web]\nhosts = [\"x\"]\n",
         "i.toml:3:1: group 'web' lists unknown host 'x'"},
        // Host names that would leave the log directory or forge a line, in an environment,
        // a group and as a [host] key: each where it is written.
        {"[env.a]\nhosts = [\"ok\", \"x/../../../tmp/esc\"]\n",
         "i.toml:2:16: host name 'x/../../../tmp/esc': character 2 ('/') is not allowed; host "
         "names are DNS names: letters, digits, '-' and '_', with '.' between labels of 1 to 63 "
         "characters (253 in all)"},
        {"[env.a]\nhosts = [\"h\"]\n[group.g]\nhosts = [\"h\",\n \"..\"]\n",
         "i.toml:5:2: host name '..': it has an empty label at character 1; host names are DNS "
         "names: letters, digits, '-' and '_', with '.' between labels of 1 to 63 characters "
         "(253 in all)"},
        {"[host.\"evil\\nhost\"]\n",
         "i.toml:1:7: host name 'evil\\nhost': character 5 ('\\n') is not allowed; host names "
         "are DNS names: letters, digits, '-' and '_', with '.' between labels of 1 to 63 "
         "characters (253 in all)"},
        // Port out of range.
        {"[host.h]\nport = 70000\n",
         "i.toml:2:8: host 'h' 'port' must be an integer from 1 to 65535"},
        // Unknown key in a host.
        {"[host.h]\nadress = \"x\"\n",
         "i.toml:2:1: unknown key 'adress' in host 'h' (did you mean 'address'?)"},
        // [ssh]: unknown keys, -o settings without '=', known_hosts policies, durations.
        {"[ssh]\nidentity_file = \"k\"\n",
         "i.toml:2:1: unknown key 'identity_file' in [ssh] (expected one of: config, identity, "
         "options, known_hosts, connect_timeout, persist, timeout, forks)"},
        {"[ssh]\noptions = [\"-v\"]\n",
         "i.toml:2:11: [ssh] options are ssh -o settings written Key=Value, found \"-v\""},
        {"[ssh]\nknown_hosts = \"yes\"\n",
         "i.toml:2:15: [ssh] known_hosts must be \"strict\", \"accept-new\" or \"off\", found "
         "\"yes\""},
        {"[ssh]\npersist = \"soon\"\n",
         "i.toml:2:11: [ssh] persist must be a duration like \"10s\" or \"5m\", found \"soon\""},
        {"[ssh]\nforks = 0\n", "i.toml:2:9: [ssh] forks must be an integer from 1 to 1000"},
        // Broken TOML.
        {"[env.a\n",
         "i.toml:1:7: invalid TOML: Error while parsing table header: expected ']', saw '\\n'"},
    };
    for (const auto& row : rows) {
        auto inv = parse_inventory(row.text, "i.toml");
        ASSERT_FALSE(inv) << row.text;
        EXPECT_EQ(inv.error().message(), row.message);
    }
}

TEST(ParseInventory, WarnsOfTwoHostNamesForOneAddress) {
    auto inv = parse_inventory(R"([env.prod]
hosts = ["web1", "web2", "db1"]
[host.web1]
address = "10.0.0.5"
[host.web2]
address = "10.0.0.5"
[host.db1]
address = "10.0.0.5"
port = 2222
)",
                               "i.toml");
    ASSERT_TRUE(inv) << inv.error().message();
    // db1 is another sshd on another port: not the same machine as far as we can tell.
    EXPECT_EQ(inv->warnings,
              std::vector<std::string>{
                  "i.toml:6:11: warning: hosts 'web1' and 'web2' have the same address 10.0.0.5: "
                  "a step on both runs twice on that machine"});
    auto plain = parse_inventory("[env.prod]\nhosts = [\"a\", \"b\"]\n", "i.toml");
    ASSERT_TRUE(plain) << plain.error().message();
    EXPECT_TRUE(plain->warnings.empty());
}

}  // namespace
}  // namespace shipshape::app
