import CUDA
import Engine

extension ElementType {
    /// cuDNN's name for this element type.
    var cudnnDataType: Int32 {
        switch self {
        case .f32: CUDNN.dataFloat
        case .f16: CUDNN.dataHalf
        case .bf16: CUDNN.dataBFloat16
        }
    }
}
