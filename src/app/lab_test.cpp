#include "app/lab.hpp"

#include <gtest/gtest.h>

#include "app/image_run.hpp"

namespace shipshape::app {
namespace {

TEST(LabInventory, MergesEnvironmentsHostsAndSshConfig) {
    auto main = parse_inventory("[ssh]\nconfig = \"mine\"\n[env.prod]\nhosts = [\"web1\"]\n",
                                "inventory.toml");
    ASSERT_TRUE(main) << main.error().message();
    auto lab = parse_inventory(
        "[ssh]\nconfig = \"lab_config\"\n[env.lab]\nhosts = [\"lab1\"]\n"
        "[host.lab1]\naddress = \"10.1.2.2\"\n",
        "inventory.lab.toml");
    ASSERT_TRUE(lab) << lab.error().message();
    auto ok = merge_lab_inventory(*main, *lab, "inventory.toml", "inventory.lab.toml");
    ASSERT_TRUE(ok) << ok.error().message();
    ASSERT_NE(main->find_env("lab"), nullptr);
    EXPECT_NE(main->find_env("prod"), nullptr);
    ASSERT_EQ(main->hosts.size(), 1u);
    EXPECT_EQ(main->hosts[0].address, "10.1.2.2");
    EXPECT_EQ(main->ssh.config, "lab_config");
}

TEST(LabInventory, ClashesNameBothFiles) {
    struct Row {
        const char* lab;
        const char* message;
    } rows[] = {
        // an environment of the same name
        {"[env.prod]\nhosts = [\"lab1\"]\n",
         "environment 'prod' is defined in both inventory.toml and inventory.lab.toml (the "
         "lab's, written by `shipshape lab up`): rename one, or `shipshape lab down`"},
        // a host the main inventory lists in an environment
        {"[env.lab]\nhosts = [\"web1\"]\n[host.web1]\naddress = \"10.0.0.9\"\n",
         "host 'web1' is defined in both inventory.toml and inventory.lab.toml (the lab's, "
         "written by `shipshape lab up`): rename one, or `shipshape lab down`"},
    };
    for (const auto& row : rows) {
        auto main = parse_inventory("[env.prod]\nhosts = [\"web1\"]\n", "inventory.toml");
        auto lab = parse_inventory(row.lab, "inventory.lab.toml");
        ASSERT_TRUE(main && lab);
        auto ok = merge_lab_inventory(*main, *lab, "inventory.toml", "inventory.lab.toml");
        ASSERT_FALSE(ok) << row.lab;
        EXPECT_EQ(ok.error().code(), Errc::invalid_definition);
        EXPECT_EQ(ok.error().message(), row.message);
    }
}

TEST(LabNames, SubnetsAndIds) {
    EXPECT_EQ(lab_id("/srv/ops").size(), 6u);
    EXPECT_NE(lab_id("/srv/ops"), lab_id("/srv/ops2"));
    // Derived subnets are /24s inside 10.200.0.0 - 10.249.255.0.
    auto prefix = lab_subnet_prefix(default_lab_subnet("ffffff"));
    ASSERT_TRUE(prefix) << prefix.error().message();
    EXPECT_EQ(*prefix, "10." + std::to_string(200 + 0xffff % 50) + ".255.");
    EXPECT_EQ(*lab_subnet_prefix("192.168.7.0/24"), "192.168.7.");
    for (const char* bad : {"10.0.0.0/16", "10.0.0.5/24", "300.1.1.0/24", "lab", "10.0.0.0/24x"}) {
        auto r = lab_subnet_prefix(bad);
        ASSERT_FALSE(r) << bad;
        EXPECT_EQ(r.error().message(),
                  std::string("shipshape.toml [lab] subnet must be an IPv4 /24 like "
                              "\"10.77.3.0/24\", found \"") +
                      bad + "\"");
    }
}

TEST(LabState, RoundTrips) {
    LabState s;
    s.id = "abc123";
    s.image = std::string(64, 'a');
    s.subnet = "10.1.2.0/24";
    s.bridge = "sslababc123";
    s.gateway = "10.1.2.1";
    s.hosts.push_back({"lab1", 1, "10.1.2.2", "sslab-abc123-1", "sslababc123v1", 42, 99, false});
    auto back = parse_lab_state(lab_state_json(s));
    ASSERT_TRUE(back) << back.error().message();
    EXPECT_EQ(lab_state_json(*back), lab_state_json(s));
    EXPECT_EQ(back->hosts.at(0).start_ticks, 99u);
    EXPECT_FALSE(parse_lab_state("{}"));
}

TEST(ImageRun, BindsParse) {
    auto ro = parse_bind("src:/dst");
    ASSERT_TRUE(ro);
    EXPECT_TRUE(ro->read_only);
    EXPECT_EQ(ro->source, "src");
    EXPECT_EQ(ro->destination, "/dst");
    auto rw = parse_bind("/a:/b:rw");
    ASSERT_TRUE(rw);
    EXPECT_FALSE(rw->read_only);
    EXPECT_EQ(parse_bind("a").error().message(), "--bind takes SRC:DST or SRC:DST:rw, found 'a'");
    EXPECT_EQ(parse_bind("a:b").error().message(),
              "--bind destination must be an absolute path, found 'a:b'");
    EXPECT_EQ(parse_bind("a:/b:x").error().message(),
              "--bind mode must be 'ro' or 'rw', found 'x' in 'a:/b:x'");
}

TEST(ImageRun, SpecTakesTheImagesLimitsUnlessNone) {
    image::ImageRecord img;
    img.name = "prod";
    img.dir = "/i/abc";
    img.base_rootfs = "/i/bases/k/rootfs";
    img.limits.memory_bytes = 1024;
    img.limits.open_files = 10;
    ImageRunOptions o;
    o.argv = {"true"};
    auto s = image_container_spec(img, o);
    EXPECT_EQ(s.lower_dirs, (std::vector<std::string>{"/i/abc/layer", "/i/bases/k/rootfs"}));
    EXPECT_EQ(s.hostname, "prod");
    EXPECT_EQ(s.limits.memory_bytes, 1024u);
    EXPECT_EQ(s.limits.open_files, 10u);
    EXPECT_TRUE(s.upper_dir.empty());  // a throwaway upper: the image is never written
    o.limits = ImageLimits::none;
    s = image_container_spec(img, o);
    EXPECT_FALSE(s.limits.memory_bytes);
    EXPECT_FALSE(s.limits.open_files);
}

}  // namespace
}  // namespace shipshape::app
