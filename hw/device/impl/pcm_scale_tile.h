// The conductance-scaling tile parameters shared by the PCM pair devices "pcm" and "pcm_table"
// (hw/physics/pcm.h PcmScaleTile, docs/devices.md §2.1).
#pragma once

#include <string>
#include <vector>

#include "hw/physics/pcm.h"
#include "sim/params.h"

namespace ptc::sim {

constexpr int64_t kDefaultCustomTile = 512;

inline std::vector<ParamSpec> pcm_scale_tile_params() {
  return {{"scale_tile",
           "",
           "block",
           "tile sharing one conductance scale (max|W| -> g_max - g_min; pcm_table: -> g_max) and ADC range: block (each k x k "
           "block, default), aihwkit "
           "(aihwkit's mapped tiles, at most 512 x 512) or custom (tile_rows x tile_cols)",
           -1e300,
           1e300,
           {"block", "aihwkit", "custom"}},
          {"tile_rows", "", kDefaultCustomTile,
           "custom scale tile: split rows (outputs) into ceil(rows / tile_rows) parts, cut at block edges", 1, 1e9},
          {"tile_cols", "", kDefaultCustomTile,
           "custom scale tile: split columns (inputs) into ceil(cols / tile_cols) parts, cut at block edges", 1, 1e9},
          {"weight_scaling_columnwise", "", false,
           "aihwkit MappingParameter weight_scaling_columnwise (omega 1): each output's max|W| within its scale tile -> "
           "the same conductance as above, its scale applied digitally after the ADC"}};
}

struct PcmScaleTileParams {
  std::string mode;
  int64_t rows = 0, cols = 0;
  bool columnwise = false;
  explicit PcmScaleTileParams(Params& p)
      : mode(p.str("scale_tile")),
        rows(p.integer("tile_rows")),
        cols(p.integer("tile_cols")),
        columnwise(p.flag("weight_scaling_columnwise")) {
    // The custom tile's sizes mean nothing for the other modes: another size than the default is a
    // mistake (the default is in every config.resolved.json, which must run again as it is).
    if (mode != "custom")
      for (const char* k : {"tile_rows", "tile_cols"})
        if (p.given(k) && p.integer(k) != kDefaultCustomTile)
          throw Error(p.path() + "." + k + ": sets the custom scale tile, and scale_tile is \"" + mode +
                      "\"; set scale_tile to \"custom\" or drop " + k);
  }
  hw::PcmScaleTile resolve() const {
    if (mode == "block") return {0, 0, columnwise};
    if (mode == "aihwkit") return {hw::kAihwkitTileSize, hw::kAihwkitTileSize, columnwise};
    return {rows, cols, columnwise};
  }
};

}  // namespace ptc::sim
