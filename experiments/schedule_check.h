// The schedules of a definition, checked and shown before anything is launched: lowbit grid
// and lowbit suite refuse a definition whose trajectories are a waste of compute
// (core/schedule/trajectory.h), naming the file, the variant and its axis values, and
// --dry-run shows what each variant's lr and temperature do.
#pragma once
#include <cstdio>

#include "experiments/spec.h"

namespace lowbit {

/// One config per variant and axis values (the seed changes no schedule), labelled
/// "<variant>" or "<variant> {axis values}".
std::vector<std::pair<std::string, RunConfig>> distinct_trainings(const ExperimentSpec& spec);

/// Throws ConfigError("<file>: variants.<v> [axis values]: <problem>") for the first error of
/// check_schedules among the definition's runs (one config per variant and axis values: the
/// seed changes no schedule); prints each warning, so prefixed, to `warn`.
void check_launch_schedules(const ExperimentSpec& spec, std::FILE* warn);

/// Per variant and axis values: the lr at the first and last step; for SLB, T at the window's
/// start, middle and end, the exp factor, and the epoch from which the forward is hard.
void print_schedule_summaries(const ExperimentSpec& spec, std::FILE* out);

}  // namespace lowbit
