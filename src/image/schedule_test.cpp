#include "image/schedule.hpp"

#include <gtest/gtest.h>

namespace shipshape::image {
namespace {

TEST(Schedule, WeeklyTimerAndService) {
    ScheduleOptions o;
    o.binary = "/usr/bin/shipshape";
    o.repo = "/srv/ops";
    o.hosts = "env:prod";
    auto u = schedule_units(o);
    EXPECT_EQ(u.timer_name, "shipshape-image.timer");
    EXPECT_EQ(u.service_name, "shipshape-image.service");
    EXPECT_EQ(u.timer,
              "[Unit]\n"
              "Description=Snapshot production and build its image (images/prod.toml) weekly\n"
              "\n"
              "[Timer]\n"
              "OnCalendar=weekly\n"
              "Persistent=true\n"
              "RandomizedDelaySec=1h\n"
              "Unit=shipshape-image.service\n"
              "\n"
              "[Install]\n"
              "WantedBy=timers.target\n");
    EXPECT_EQ(u.service,
              "[Unit]\n"
              "Description=shipshape: snapshot env:prod and build images/prod.toml\n"
              "Wants=network-online.target\n"
              "After=network-online.target\n"
              "\n"
              "[Service]\n"
              "Type=oneshot\n"
              "WorkingDirectory=/srv/ops\n"
              "# One after the other; the build runs only when the snapshot succeeded.\n"
              "ExecStart=/usr/bin/shipshape image snapshot env:prod -o images/prod.toml\n"
              "ExecStart=/usr/bin/shipshape image build images/prod.toml\n");
}

TEST(Schedule, QuotesForSystemd) {
    ScheduleOptions o;
    o.binary = "/opt/my tools/shipshape";
    o.repo = "/srv/ops 100%";
    o.spec = "images/$prod \"x\".toml";
    o.hosts = "web* db1";
    auto u = schedule_units(o);
    // Specifiers doubled everywhere; spaces and quotes quoted on command lines only.
    EXPECT_NE(u.service.find("WorkingDirectory=/srv/ops 100%%\n"), std::string::npos) << u.service;
    EXPECT_NE(u.service.find("ExecStart=\"/opt/my tools/shipshape\" image snapshot web* db1 -o "
                             "\"images/$$prod \\\"x\\\".toml\"\n"),
              std::string::npos)
        << u.service;
}

TEST(Schedule, FormatNamesBothFiles) {
    ScheduleOptions o;
    o.binary = "/usr/bin/shipshape";
    o.repo = "/srv/ops";
    o.hosts = "env:prod";
    std::string text = format_schedule(schedule_units(o));
    EXPECT_EQ(text.rfind("# /etc/systemd/system/shipshape-image.timer\n[Unit]\n", 0), 0u);
    EXPECT_NE(text.find("\n# /etc/systemd/system/shipshape-image.service\n[Unit]\n"),
              std::string::npos);
    EXPECT_NE(text.find("systemctl enable --now shipshape-image.timer"), std::string::npos);
}

}  // namespace
}  // namespace shipshape::image
