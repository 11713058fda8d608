/** The synthetic figure's walk period (s) used by the inference tests. */
export const PERIOD_S = 12;

/** The synthetic figure enters x > 2/3 once per period; the zone is that third, feet level included. */
export const PRESS_ZONES = `cameras:
  cam1:
    zones:
      - id: press
        polygon: [[0.667, 0], [1, 0], [1, 1], [0.667, 1]]
        rules:
          - class: motion
            dwell: 2s
            min_score: 0.3
            exit_grace: 1s
`;
