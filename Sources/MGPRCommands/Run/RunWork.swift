import Cluster
import Configuration
import Foundation
import Pipeline
import Raster
import Tiling
import Weights

/// The work a run with this configuration does, and the check that a resume continues
/// the same work: results of one input, grid or model are never mixed with another's.
enum RunWork {
    static func identity(_ config: RunConfig, source: any TileSource, share: ShareMode = .static) throws -> WorkIdentity {
        var fields: [String: String] = [
            "model": config.model.rawValue, "precision": config.precision.rawValue, "tile_size": "\(config.tileSize)",
            "overlap": "\(config.overlap)", "tiles": "\(source.count)",
        ]
        // How, not what: recorded so that a resume shares as the run did (runs from before
        // the choice shared statically, and record nothing).
        if share == .claim { fields[WorkIdentity.shareKey] = share.rawValue }
        if let raster = (source as? RasterTileSource)?.raster {
            let bytes = (try? FileManager.default.attributesOfItem(atPath: raster.path)[.size] as? Int).flatMap { $0 }
            fields["image_path"] = raster.path
            fields["raster"] = "\(raster.width)x\(raster.height) px, \(raster.bandCount) bands, \(bytes.map { "\($0) bytes" } ?? "size unknown")"
            fields["bands"] = raster.bands.map(String.init).joined(separator: ",")
            fields["nodata"] = config.nodata.rawValue
            fields["skip_empty"] = "\(config.skipEmpty)"
            // Recorded only when not the seed's grid, so runs from before the choice resume.
            if config.tiling != .spread { fields["tiling"] = config.tiling.rawValue }
        } else {
            fields["image_path"] = "dummy tiles (seed \(config.seed))"
        }
        if config.model != .none {
            fields["weights"] = try config.weights.map { "\($0) (\(try WeightsDigest.of(file: $0)))" } ?? "seeded (seed \(config.seed))"
        }
        if config.model.task == .detection {
            for (key, value) in [
                ("score_threshold", "\(config.scoreThreshold)"), ("nms_threshold", "\(config.nmsThreshold)"),
                ("detections_per_tile", "\(config.detectionsPerTile)"), ("min_size", "\(config.minSize)"),
                ("max_size", "\(config.maxSize)"), ("bn_eps", "\(config.bnEps)"), ("merge_iou", "\(config.mergeIoU)"),
                ("merge", config.merge.rawValue),
            ] { fields[key] = value }
        }
        if config.model.task == .segmentation {
            // What each part holds (probabilities, neighbours' pieces) and what made its pixels.
            fields["stitch"] = config.stitch.rawValue
            fields["probabilities"] = config.probabilities.rawValue
            fields["mean"] = config.mean.map { "\($0)" } ?? "default"
            fields["std"] = config.std.map { "\($0)" } ?? "default"
        }
        return WorkIdentity(fields)
    }

    /// Records the work of a fresh run; on a resume, refuses work that differs from the
    /// recorded one (exit 2), naming each key. A record that is damaged, or missing once
    /// tiles are done, is an error (exit 1): nothing would vouch for the tiles done.
    static func check(_ work: WorkIdentity, layout: RunLayout, resume: Bool, log: Log) throws {
        guard resume else { return try layout.write(work) }
        guard let recorded = try layout.readWork() else {
            let done = layout.journaledTileCount
            guard done == 0 else { throw ClusterError.workMissing(path: layout.workFile, tilesDone: done) }
            log.info("\(layout.workFile) is not there yet (no tile was done): recording it now")
            return try layout.write(work)
        }
        let differences = work.differences(from: recorded)
        guard differences.isEmpty else {
            throw ConfigError.invalidValue(
                key: "resume", value: "true",
                reason: "\(layout.root) holds other work: \(differences.joined(separator: "; ")); "
                    + "resume with the same settings, or give a new run_dir")
        }
    }
}

extension WorkIdentity {
    /// How the recorded run shared its tiles (nil: statically, or recorded before the choice).
    var share: ShareMode? { fields[Self.shareKey].flatMap(ShareMode.init(rawValue:)) }
}
