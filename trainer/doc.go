// Package trainer is the front door of training: a stage (the recipe, the
// train command) says which backend trains, in which precision and, for
// the torch backend, on which processes, as one Settings; New resolves it
// once and returns the Trainer that runs jobs with it.
//
// Where each setting is decided:
//   - Backend: New's switch ("go", the embedded CPU engine of package
//     train, or "torch", PyTorch through package torchlaunch).
//   - Precision: Settings.Precision. For the Go engine "auto" is resolved
//     by model.ParsePrecision (bf16 where the CPU multiplies bfloat16
//     fast, else fp32) before any stage runs, and Settings.Input records
//     the resolved value in the stage inputs. For the torch backend an
//     explicit "bf16" or "fp32" overrides the launch settings' precision;
//     "auto" leaves it to them (bf16 autocast on CUDA, fp32 on a CPU,
//     decided on the machine that runs the ranks).
//   - Launch: torchlaunch.Launch, read from a launcher settings file
//     (written by `longrecipe plan`) with the keys a recipe's launch
//     table or the command line give over it (LaunchTable, Settings).
package trainer
