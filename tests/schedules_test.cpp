#include <doctest/doctest.h>

#include <cmath>

#include "core/schedule/schedules.h"

using namespace lowbit;
using doctest::Approx;

TEST_CASE("lr: constant, step, multistep, cosine, warm-up") {
  OptimConfig o;
  o.lr = 0.1;
  o.schedule = LrSchedule::kConstant;
  CHECK(lr_at(o, 10, 7.5) == Approx(0.1));
  o.schedule = LrSchedule::kStep;
  o.step_size = 3;
  o.gamma = 0.5;
  CHECK(lr_at(o, 10, 2.9) == Approx(0.1));
  CHECK(lr_at(o, 10, 3.0) == Approx(0.05));
  CHECK(lr_at(o, 10, 6.5) == Approx(0.025));
  o.schedule = LrSchedule::kMultistep;
  o.milestones = {2, 5};
  o.gamma = 0.1;
  CHECK(lr_at(o, 10, 1.99) == Approx(0.1));
  CHECK(lr_at(o, 10, 2.0) == Approx(0.01));
  CHECK(lr_at(o, 10, 5.0) == Approx(0.001));
  o.schedule = LrSchedule::kCosine;
  o.min_lr = 0.0;
  CHECK(lr_at(o, 10, 0) == Approx(0.1));
  CHECK(lr_at(o, 10, 5) == Approx(0.05));
  CHECK(lr_at(o, 10, 10) == Approx(0.0));
  CHECK(lr_at(o, 10, 2.5) == Approx(0.05 * (1 + std::cos(M_PI * 0.25))));
  o.warmup_epochs = 2;
  CHECK(lr_at(o, 10, 0.5) == Approx(0.025));
  CHECK(lr_at(o, 10, 2) == Approx(0.1));
  CHECK(lr_at(o, 10, 6) == Approx(0.05));  // cosine over epochs 2..10
}

TEST_CASE("temperature: exp follows T0 * gamma^(e - e_start) inside the window") {
  QuantConfig q;  // defaults: exp, T0 1, gamma 1.2, window 0.2..0.6
  q.temp_window = TempWindow::kFractional;  // the arithmetic under test
  CHECK(temperature_at(q, 10, 0.5).value == Approx(1.0));
  CHECK(temperature_at(q, 10, 2.0).value == Approx(1.0));
  CHECK(temperature_at(q, 10, 3.7).value == Approx(1.2));  // per epoch: e = 3
  CHECK(temperature_at(q, 10, 5.0).value == Approx(std::pow(1.2, 3)));
  CHECK_FALSE(temperature_at(q, 10, 5.9).hard);
  auto after = temperature_at(q, 10, 6.0);
  CHECK(after.hard);
  CHECK(after.value == Approx(std::pow(1.2, 4)));
  q.temp_per_step = true;
  CHECK(temperature_at(q, 10, 3.5).value == Approx(std::pow(1.2, 1.5)));
}

TEST_CASE("temperature: cos and linear go from T0 to T1 over the window") {
  QuantConfig q;
  q.temp_window = TempWindow::kFractional;  // the arithmetic under test
  q.temp_t0 = 1, q.temp_t1 = 101, q.temp_start = 0.0, q.temp_end = 1.0, q.temp_per_step = true;
  q.temp_schedule = TempSchedule::kLinear;
  CHECK(temperature_at(q, 10, 0).value == Approx(1));
  CHECK(temperature_at(q, 10, 5).value == Approx(51));
  CHECK(temperature_at(q, 10, 10).value == Approx(101));
  CHECK_FALSE(temperature_at(q, 10, 10).hard);  // window reaches the end: stays soft
  q.temp_schedule = TempSchedule::kCos;
  CHECK(temperature_at(q, 10, 0).value == Approx(1));
  CHECK(temperature_at(q, 10, 5).value == Approx(51));
  CHECK(temperature_at(q, 10, 2.5).value == Approx(101 - 100 * 0.5 * (1 + std::cos(M_PI * 0.25))));
  CHECK(temperature_at(q, 10, 10).value == Approx(101));
}

TEST_CASE("temperature: sgdr restarts with growing periods") {
  QuantConfig q;
  q.temp_window = TempWindow::kFractional;  // the arithmetic under test
  q.temp_schedule = TempSchedule::kSgdr;
  q.temp_t0 = 1, q.temp_t1 = 11, q.temp_start = 0, q.temp_end = 1, q.temp_per_step = true;
  q.temp_period = 0.1, q.temp_period_mult = 2;  // cycles over 100 epochs: [0,10) [10,30) [30,70)
  CHECK(temperature_at(q, 100, 0).value == Approx(1));
  CHECK(temperature_at(q, 100, 5).value == Approx(6));
  CHECK(temperature_at(q, 100, 9.999).value == Approx(11).epsilon(1e-3));
  CHECK(temperature_at(q, 100, 10).value == Approx(1));  // restart
  CHECK(temperature_at(q, 100, 20).value == Approx(6));  // middle of the 20-epoch cycle
  CHECK(temperature_at(q, 100, 30).value == Approx(1));  // restart
  CHECK(temperature_at(q, 100, 50).value == Approx(6));
}

// The golden-stick port's TemperatureScheduler.epoch_begin, written out by hand (1-based
// epoch e, s = int(E * 0.2), f = int(E * 0.6), T = 1.2^(min(e, f) - s) for e > s, one-hot
// forward from e >= f). Tolerance 1e-12 relative.
TEST_CASE("temperature: the port's window arithmetic, E = 8 and E = 500, by hand") {
  QuantConfig q;
  q.temp_window = TempWindow::kPort;
  q.temp_schedule = TempSchedule::kExp;
  q.temp_t0 = 1.0;
  q.temp_gamma = 1.2;  // pinned, as the port does
  q.temp_start = 0.2;
  q.temp_end = 0.6;
  // E = 8: s = int(1.6) = 1, f = int(4.8) = 4.
  const double t8[8] = {1.0, 1.2, 1.44, 1.728, 1.728, 1.728, 1.728, 1.728};
  const bool h8[8] = {false, false, false, true, true, true, true, true};
  for (int e = 1; e <= 8; ++e) {
    for (double frac : {0.0, 0.5, 0.99}) {  // constant within an epoch
      auto T = temperature_at(q, 8, double(e - 1) + frac);
      CHECK_MESSAGE(T.value == Approx(t8[e - 1]).epsilon(1e-12), "E=8 epoch " << e);
      CHECK_MESSAGE(T.hard == h8[e - 1], "E=8 epoch " << e);
    }
  }
  // E = 500: s = 100, f = 300.
  struct Row {
    int e;
    double T;
    bool hard;
  };
  const Row rows[] = {{1, 1.0, false},
                      {100, 1.0, false},
                      {101, 1.2, false},
                      {102, 1.44, false},
                      {200, std::pow(1.2, 100), false},
                      {299, std::pow(1.2, 199), false},
                      {300, std::pow(1.2, 200), true},
                      {301, std::pow(1.2, 200), true},
                      {500, std::pow(1.2, 200), true}};
  for (auto& r : rows) {
    auto T = temperature_at(q, 500, double(r.e - 1));
    CHECK_MESSAGE(T.value == Approx(r.T).epsilon(1e-12), "E=500 epoch " << r.e);
    CHECK_MESSAGE(T.hard == r.hard, "E=500 epoch " << r.e);
  }
  // With end = 1 the port still switches to one-hot in the last epoch (e >= f = E); the
  // fractional window keeps it soft.
  q.temp_end = 1.0;
  CHECK(temperature_at(q, 10, 9.0).hard);
  CHECK(!temperature_at(q, 10, 8.0).hard);
  q.temp_window = TempWindow::kFractional;
  CHECK(!temperature_at(q, 10, 9.0).hard);
}
