import Configuration
import Foundation
import Raster
import Tiling

/// `mgpr-test-image key=value ...`: writes the random, georeferenced test GeoTIFF
/// of `image_size` px to `image_path`.
public struct TestImageCommand: Sendable {
    public let config: RunConfig
    let log = Log(name: "mgpr-test-image")

    public init(config: RunConfig) { self.config = config }

    public func run() throws {
        // GDAL counts pixels along a side in 32 bits.
        guard config.imageSize <= Int(Int32.max) else {
            throw ConfigError.invalidValue(key: "image_size", value: "\(config.imageSize)", reason: "at most \(Int32.max) px a side (GDAL's limit)")
        }
        guard let wkt = SpatialReference.wkt(fromUserInput: config.testImageCRS) else {
            throw ConfigError.invalidValue(
                key: "test_image_crs", value: config.testImageCRS,
                reason: "not a CRS GDAL knows; use e.g. EPSG:32617, a PROJ string or WKT")
        }
        let transform = GeoTransform(
            originX: config.testImageOrigin.x, originY: config.testImageOrigin.y, pixelSize: config.testImagePixelSize)
        let image = TestImage(
            size: config.imageSize, tileSize: config.tileSize, seed: config.seed,
            georeference: Georeference(transform: transform, crsWKT: wkt))
        log.info(
            "Writing \(config.imagePath): \(config.imageSize)x\(config.imageSize) px, 3 bands Byte, "
                + "tiles of \(config.tileSize), DEFLATE, \(config.testImageCRS), seed \(config.seed)")
        // Blocks are written once, in order: a small cache keeps memory flat at any size.
        GDALLibrary.setCacheMax(bytes: 64 << 20)
        let start = Date()
        var lastPercent = -1
        try image.write(to: config.imagePath) { done, total in
            let percent = done * 100 / total
            if percent / 10 != lastPercent / 10 {
                log.info("\(percent)% (\(done)/\(total) blocks)")
                lastPercent = percent
            }
        }
        log.info(String(format: "Wrote %@ in %.2f seconds", config.imagePath, Date().timeIntervalSince(start)))
    }
}
