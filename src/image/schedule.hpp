// `shipshape image schedule --weekly`: the systemd timer and service that snapshot production
// and build its image on a schedule, as text for operators to install. Pure.
#pragma once

#include <string>

namespace shipshape::image {

struct ScheduleOptions {
    std::string unit = "shipshape-image";   // unit name without suffix
    std::string calendar = "weekly";        // systemd OnCalendar=
    std::string binary;                     // absolute path of shipshape
    std::string repo;                       // absolute path of the ops repo (WorkingDirectory=)
    std::string spec = "images/prod.toml";  // the spec file snapshot writes and build reads
    std::string hosts;                      // host patterns of the snapshot, space-separated
};

struct ScheduleUnits {
    std::string timer_name;  // "shipshape-image.timer"
    std::string timer;
    std::string service_name;  // "shipshape-image.service"
    std::string service;
};

// The two unit files. Arguments are quoted for systemd's command-line syntax ('%' and '$' are
// escaped, words with spaces or quotes are double-quoted), so any path works.
ScheduleUnits schedule_units(const ScheduleOptions& options);

// Both files as one text: each under a "# /etc/systemd/system/NAME" line, then how to enable.
std::string format_schedule(const ScheduleUnits& units);

}  // namespace shipshape::image
