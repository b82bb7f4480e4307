// The fields of unpartition_gate_forward, read and checked once for its binding and for an
// inference program's gate step (ops/infer.cc), whose storages also take element offsets.
// R is Args (named fields) or a step's reader.
#pragma once
#include "unpartition_gate.h"

namespace repmlp {

// The sizes N, C, Hp, h, Wp, w, and the element counts they give.
struct GateGeometry {
  PartitionShape shape;
  int64_t planes, numel;
};

template <typename R>
GateGeometry gate_geometry(R& a) {
  GateGeometry g{{a.size("N"), a.size("C"), a.size("Hp"), a.size("h"), a.size("Wp"), a.size("w")}, 0, 0};
  const PartitionShape& s = g.shape;
  g.planes = a.product({s.N, s.C});
  g.numel = a.product({g.planes, s.Hp, s.h, s.Wp, s.w});
  return g;
}

struct GateForward {
  float* out;
  const float* y;
  const float* gate;
  const float* residual;  // null when absent
  PartitionShape shape;
  int64_t numel;
};

// {out, y, gate, residual | null} and the geometry. With kOffsets, also offOut, offY, offGate
// and offResidual (element offsets into each storage), and out may share a storage with the
// inputs where the ranges are apart; without, out must be a storage of its own.
template <bool kOffsets, typename R>
GateForward read_gate_forward(R& a) {
  const GateGeometry g = gate_geometry(a);
  const auto off = [&](const char* name) { return kOffsets ? a.size(name) : int64_t{0}; };
  const int64_t off_out = off("offOut"), off_y = off("offY"), off_gate = off("offGate"), off_res = off("offResidual");
  GateForward f{};
  f.shape = g.shape, f.numel = g.numel;
  f.out = a.f32("out", g.numel, off_out);
  f.y = a.f32("y", g.numel, off_y);
  f.gate = a.f32("gate", g.planes, off_gate);
  f.residual = a.is_null("residual") ? nullptr : a.f32("residual", g.numel, off_res);
  if constexpr (kOffsets) {
    a.check_disjoint("out", f.out, g.numel, "y", f.y, g.numel);
    a.check_disjoint("out", f.out, g.numel, "gate", f.gate, g.planes);
    a.check_disjoint("out", f.out, g.numel, "residual", f.residual, f.residual ? g.numel : 0);
  } else {
    a.check_distinct({{"out", f.out}}, {{"out", f.out}, {"y", f.y}, {"gate", f.gate}, {"residual", f.residual}});
  }
  return f;
}

}  // namespace repmlp
