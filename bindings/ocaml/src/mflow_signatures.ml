(* SPDX-License-Identifier: GPL-2.0 *)

(* The build checks that mflow implements the published signatures. *)
module _ : Mflow_mirage.Mirage_flow.S = Mflow_lwt
module _ : Mflow_mirage.Mirage_console.S = Mflow_lwt.Console
