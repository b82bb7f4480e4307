export {
  fc3LocalityMaps, blockLocalityMaps, fc3LocalitySummary, kernelWindow, windowStats, localityStats,
  type LocalityMaps, type LocalityOptions, type KernelWindow, type WindowStats, type LocalityStats, type LocalitySummary,
} from './locality';
export { renderLocalitySvg, logRange, logTicks, type LocalitySvgOptions } from './render';
export { viridis, VIRIDIS_STOPS } from './colormap';
