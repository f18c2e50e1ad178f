// libFuzzer target: YAML text, as `dsi run --config` reads it.
import DSIRuntime

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        _ = try HandlerConfig.load(text: text, file: "fuzz.yaml")
    } catch let error as ConfigError {
        _ = error.description
    } catch {
        fatalError("a config error that is not a ConfigError: \(error)")
    }
    return 0
}
