import Configuration
import Foundation
import Pipeline
import Raster
import Tiling

extension PredictionRun {
    /// The tiles of the run: the seed's dummy tiles, or the raster's, with what it holds
    /// said in the log and what cannot work with it refused.
    func makeSource() throws -> any TileSource {
        if config.useFakeData {
            log.info(
                "Using dummy data: \(config.dummyCount) random tiles, \(config.dummyDelay) s each (use_fake_data=true)")
            return DummyTileSource(
                count: config.dummyCount, tileSize: config.tileSize, delay: config.dummyDelay, seed: config.seed)
        }
        let missing: MissingPixels = switch config.nodata {
        case .keep: .keep
        case .zero: .zero
        }
        var source = try RasterTileSource(
            path: config.imagePath, bands: config.bands, tileSize: config.tileSize, overlap: config.overlap, layout: config.tiling,
            missing: missing, skipEmpty: config.skipEmpty)
        // A class raster says where the input holds no data.
        source.marksMissing = config.model.task == .segmentation
        let raster = source.raster
        var types: [String] = []
        for type in raster.sampleTypes.map(\.rawValue) where !types.contains(type) { types.append(type) }
        log.info(
            "Raster \(raster.path): \(raster.width)x\(raster.height) px, \(raster.bandCount) bands, reading bands "
                + "\(raster.bands.map(String.init).joined(separator: ",")) (\(types.joined(separator: ", "))), \(raster.driver), "
                + "CRS \(raster.crsName ?? "none"); \(source.grid.columns)x\(source.grid.rows) tiles")
        let declared = Set(raster.nodata.compactMap { $0 })
        if !declared.isEmpty {
            let values = declared.sorted().map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : String($0) }.joined(separator: ", ")
            log.info(missing == .keep
                ? "Nodata \(values) is read as stored, as the seed does (nodata=zero zeroes the dataset mask's missing pixels)"
                : "Pixels the dataset mask marks missing (nodata \(values)) are read as 0 (nodata=zero)")
        }
        if !raster.georeference.isGeoreferenced {
            log.warning("\(raster.path) has no georeferencing: tile bounds are in pixel coordinates")
        } else if raster.georeference.crsWKT == nil {
            log.warning("\(raster.path) has a geotransform but no CRS: results are in its own units, with no CRS")
        }
        if raster.georeference.crsWKT == nil, let output = config.output, BoxLayerWriter.Format(path: output) == .geojson {
            throw ConfigError.invalidValue(
                key: "output", value: output,
                reason: "GeoJSON is longitude and latitude on WGS84 (RFC 7946), and \(raster.path) has no CRS to get there "
                    + "from: write .gpkg or .csv, in the raster's own units")
        }
        return source
    }
}
