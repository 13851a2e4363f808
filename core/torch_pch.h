// Precompiled header: the heavy LibTorch include, compiled once per target.
#pragma once
#include <torch/torch.h>
