export { compileInference, type CompiledInference, type InferenceOptions } from './compile';
